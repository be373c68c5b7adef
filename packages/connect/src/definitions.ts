/**
 * Which protosocket service definition carries a connect-es service's
 * calls. connect-es names a service by its descriptor (`DescService`);
 * protosocket needs to know the envelopes too. By default a service is
 * defined from its `(protosocket.v1.envelope)` option (`defineService`),
 * and a service without one travels in the standard envelope
 * (`defineStandardService`), so connect-es services come over with their
 * .proto unchanged; `defineFor` plugs in another source. Each service is
 * defined once per source.
 */
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import type { AnyServiceDefinition } from "@protosocket/runtime/protocol";
import { defineService, defineStandardService, isBoundService, type RpcMethod } from "@protosocket/runtime/protocol";
import { invalidOption } from "./options.js";

/**
 * Makes the protosocket definition of a connect-es service: its envelopes
 * and codecs. The definition's service must be `service` itself, or at least
 * name the same service and methods. Called once per service.
 */
export type DefineFor = (service: DescService) => AnyServiceDefinition;

/** A service's definition and its methods by name. */
export interface BoundService {
  readonly def: AnyServiceDefinition;
  /** The definition's method of each connect-es method, by name. */
  readonly methods: ReadonlyMap<string, RpcMethod>;
}

/**
 * The default {@link DefineFor}: the service's own `(protosocket.v1.envelope)`
 * binding, as generated code defines it; for a service without one, the
 * standard envelope (`protosocket.v1.Request` / `Response`, routed by method
 * name), as `protoc-gen-protosocket` generates it with
 * `default_envelope=standard`. Both sides of a call must agree: a server
 * that serves the service (its generated definition, or `registerConnect`)
 * uses the same one.
 */
export function defineBound(service: DescService): AnyServiceDefinition {
  return isBoundService(service) ? defineService(service) : defineStandardService(service);
}

/** The services of one definition source, each defined on first use. */
export class Definitions {
  private readonly services = new WeakMap<DescService, BoundService>();

  /** @param defineFor the source; {@link defineBound} by default. */
  constructor(private readonly defineFor: DefineFor = defineBound) {}

  /**
   * `service`'s definition, made on first use.
   *
   * @throws Error when the source cannot define it, or defines another service.
   */
  service(service: DescService): BoundService {
    let bound = this.services.get(service);
    if (bound === undefined) {
      bound = bind(service, this.defineFor(service));
      this.services.set(service, bound);
    }
    return bound;
  }

  /** The definition and the definition's method of a connect-es method (`undefined` method when the definition has none by its name). */
  method(method: DescMethod): { def: AnyServiceDefinition; method: RpcMethod | undefined } {
    const bound = this.service(method.parent);
    return { def: bound.def, method: bound.methods.get(method.name) };
  }
}

function bind(service: DescService, def: AnyServiceDefinition): BoundService {
  if (def === null || typeof def !== "object" || def.service?.typeName !== service.typeName) {
    throw invalidOption(
      "defineFor",
      def === null || typeof def !== "object" ? def : `a definition of ${def.service?.typeName}`,
      `a definition of ${service.typeName}`,
    );
  }
  const methods = new Map<string, RpcMethod>();
  for (const m of def.service.methods) methods.set(m.name, m);
  for (const m of service.methods) {
    const ours = methods.get(m.name);
    if (ours !== undefined && ours.methodKind !== m.methodKind) {
      throw invalidOption("defineFor", `${m.name} as ${ours.methodKind}`, `${service.typeName}/${m.name} as ${m.methodKind}`);
    }
  }
  return { def, methods };
}

/** The definitions of services bound by their own envelope option, shared by every transport and server that uses the default. */
export const boundDefinitions = new Definitions();

/**
 * The definitions of `defineFor`: the shared default ones when it is
 * undefined, a source of its own otherwise.
 *
 * @throws RpcError `invalid_argument` when `defineFor` is not a function.
 */
export function definitionsOf(defineFor: DefineFor | undefined): Definitions {
  if (defineFor === undefined) return boundDefinitions;
  if (typeof defineFor !== "function") throw invalidOption("defineFor", defineFor, "a function (service) => definition");
  return new Definitions(defineFor);
}
