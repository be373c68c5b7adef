/**
 * The services a server serves: checked as they are registered (one
 * encoding and one envelope pair, a handler for every method or an explicit
 * partial implementation, request cases the encoding can tell apart), and
 * turned into the routes its connections dispatch by, once, when it starts
 * serving.
 */
import { codecsOf, createEnvelopeCodecs, envelopeBindingClash } from "../encoding/codecs.js";
import type { EnvelopeCodecs } from "../encoding/encoding.js";
import type { WireTarget } from "../encoding/envelope-wire.js";
import type { AnyServiceDefinition } from "../encoding/service.js";
import { varintFraming, type Framing } from "../wire/framing.js";
import { chainServerInterceptors, type AnyHandler } from "./handler-chain.js";
import type { ServerInterceptor } from "./interceptor.js";
import type { ServedMethod } from "./served-method.js";

interface Registration {
  readonly def: AnyServiceDefinition;
  readonly impl: Record<string, unknown>;
}

/** The services registered on one server. */
export class ServiceRegistry {
  private readonly registered: Registration[] = [];
  private frozen = false;

  /** The services registered so far, in order. */
  get definitions(): readonly AnyServiceDefinition[] {
    return this.registered.map((r) => r.def);
  }

  /** How the server's connections frame: the encoding of its first service (varint before any is registered). */
  get framing(): Framing {
    const first = this.registered[0];
    return first === undefined ? varintFraming : codecsOf(first.def).framing;
  }

  /**
   * Registers `def` with its handlers; `partial` lets methods without one
   * answer `unimplemented`.
   *
   * @throws naming the service and what is wrong.
   */
  register(def: AnyServiceDefinition, impl: Record<string, unknown>, partial: boolean): void {
    if (this.frozen) throw new Error(`cannot register ${def.service.typeName}: the server is already serving`);
    if (impl === null || typeof impl !== "object")
      throw new TypeError(`${def.service.typeName}: the implementation must be an object of handlers`);
    const registered = this.registered;
    if (registered.some((r) => r.def.service.typeName === def.service.typeName))
      throw new Error(`${def.service.typeName} is already registered`);
    const first = registered[0];
    if (first !== undefined) {
      const clash = envelopeBindingClash(first.def, def);
      if (clash !== undefined) throw new Error(clash);
    }
    // Handlers are looked up by the methods' local names, whatever the encoding.
    for (const m of def.service.methods) {
      const handler = impl[m.localName];
      if (handler === undefined && !partial) {
        throw new Error(
          `${def.service.typeName}: no handler for ${m.name} (property "${m.localName}"); implement it or use registerPartial`,
        );
      }
      if (handler !== undefined && typeof handler !== "function") {
        throw new Error(`${def.service.typeName}: handler for ${m.name} is not a function`);
      }
    }
    // The encoding checks that the services' methods can be told apart (their request cases differ).
    if (first !== undefined) createEnvelopeCodecs([...registered.map((r) => r.def), def]);
    registered.push({ def, impl });
  }

  /**
   * The codecs of every registered service and the route of each request
   * case to its method, handler and interceptor chain; no service may be
   * registered after this.
   *
   * @throws when no service is registered.
   */
  serve(interceptors: readonly ServerInterceptor[]): { codecs: EnvelopeCodecs; routes: ReadonlyMap<WireTarget, ServedMethod> } {
    if (this.registered.length === 0) throw new Error("register a service before serving");
    this.frozen = true;
    const codecs = createEnvelopeCodecs(this.definitions);
    const routes = new Map<WireTarget, ServedMethod>();
    for (const codec of codecs.methods) {
      const r = this.registered.find((x) => x.def === codec.service) as Registration;
      const h = r.impl[codec.binding.localName] as AnyHandler | undefined;
      const handler = h === undefined ? undefined : (h.bind(r.impl) as AnyHandler);
      const chain = handler !== undefined && interceptors.length > 0 ? chainServerInterceptors(interceptors, handler, codec) : undefined;
      routes.set(codec.request, { codec, handler, chain });
    }
    return { codecs, routes };
  }
}
