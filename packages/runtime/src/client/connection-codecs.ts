import type { AnyRequest } from "../call/request.js";
import type { FrameLink } from "../conn/frame-link.js";
import { codecsOf, envelopeBindingClash } from "../encoding/codecs.js";
import type { EnvelopeCodecs, MethodCodec } from "../encoding/encoding.js";
import type { AnyServiceDefinition, RpcMethod } from "../encoding/service.js";
import { Code, RpcError } from "../errors.js";
import { kindError } from "./call-errors.js";

/**
 * The envelope pair of one connection: the first service called on it
 * chooses it (and how the link frames, its encoding's framing); every other
 * service is checked once to bind the same pair alike. Its codecs read the
 * id and code of every response.
 */
export class ConnectionCodecs {
  /** The first service's codecs; undefined before any call. */
  primary: EnvelopeCodecs | undefined;
  private primaryDef: AnyServiceDefinition | undefined;
  /** Services whose binding was checked against the primary's. */
  private readonly checked = new WeakSet<AnyServiceDefinition>();

  /** @param link the connection's link, framed by the first service's encoding. */
  constructor(private readonly link: FrameLink) {}

  /**
   * The codecs of the request's service and its method, checked to be of
   * `kind`.
   *
   * @throws RpcError `invalid_argument`: another envelope pair, a method not
   *   of the service, or a method of the other kind.
   */
  of(req: AnyRequest, kind: RpcMethod["methodKind"]): { codecs: EnvelopeCodecs; method: MethodCodec } {
    const codecs = this.codecsFor(req.service);
    const method = req.method;
    const mc = codecs.method(method);
    if (mc === undefined) {
      throw new RpcError(
        Code.InvalidArgument,
        `method ${method.parent.typeName}/${method.name} is not a method of ${req.service.service.typeName}`,
        [],
        { peer: this.link.peer },
      );
    }
    if (method.methodKind !== kind) throw kindError(req, kind, this.link.peer);
    return { codecs, method: mc };
  }

  private codecsFor(def: AnyServiceDefinition): EnvelopeCodecs {
    const codecs = codecsOf(def);
    if (this.primary === undefined) {
      this.link.setFraming(codecs.framing);
      this.primary = codecs;
      this.primaryDef = def;
      this.checked.add(def);
    } else if (!this.checked.has(def)) {
      const clash = envelopeBindingClash(this.primaryDef as AnyServiceDefinition, def);
      if (clash !== undefined)
        throw new RpcError(Code.InvalidArgument, `${clash}; connect a separate transport`, [], { peer: this.link.peer });
      this.checked.add(def);
    }
    return codecs;
  }
}
