/**
 * The envelope codecs of service definitions: built once per definition
 * (cached), never per client or per connection, so creating a client or
 * opening a connection builds nothing. Protobuf definitions get their codecs
 * here, from their binding; a definition of another encoding carries a
 * {@link ServiceEncoding} that builds them.
 */
import type { CasePath, MethodBinding } from "../binding/binding.js";
import type { RpcError } from "../errors.js";
import {
  isEncoded,
  type AnyServiceDefinition,
  type EncodedServiceDefinition,
  type Encoding,
  type RpcMethod,
} from "../service/rpc-service.js";
import type { ServiceDefinition } from "../service/service-definition.js";
import { varintFraming, type Framing } from "../wire/framing.js";
import { createEnvelopeWire } from "./create-envelope-wire.js";
import type { EnvelopeWire, ProtoWireTarget, WireTarget } from "./envelope-wire.js";
import { createErrorCaseCodec, type ErrorFields } from "./error-case.js";

/** What an encoding other than protobuf provides to the runtime. */
export interface ServiceEncoding extends Encoding {
  /** Builds the codecs of definitions of this encoding that share one envelope pair (checked with {@link clash} first). */
  createCodecs(defs: readonly EncodedServiceDefinition[]): EnvelopeCodecs;
  /** Why two definitions of this encoding cannot share a connection or listener; undefined when they can. */
  clash(a: EncodedServiceDefinition, b: EncodedServiceDefinition): string | undefined;
}

/** One method, with where its messages are in the envelopes. */
export interface MethodCodec {
  /** The service the method belongs to. */
  readonly service: AnyServiceDefinition;
  /** The method's descriptor (a protobuf `DescMethod`, or another encoding's method). */
  readonly desc: RpcMethod;
  /** The method's binding. */
  readonly binding: MethodBinding;
  /** "package.Service/Method". */
  readonly fullName: string;
  /** Where the request is in the request envelope. */
  readonly request: WireTarget;
  /** Where each response is in the response envelope. */
  readonly response: WireTarget;
}

/** The response envelope's error case and how to convert it to and from RpcError. */
export interface ErrorChannel {
  /** Where the error is in the response envelope. */
  readonly target: WireTarget;
  /** Converts RpcError to and from the error case's message. */
  readonly codec: {
    /** The code, message and details of an error-case message. */
    read(value: object): ErrorFields;
    /** The error-case message (or its init object) for an RpcError. */
    write(error: RpcError): Record<string, unknown>;
  };
}

/** The wire codecs of an envelope pair, for the methods of one or more services. */
export interface EnvelopeCodecs {
  /** How the encoding delimits frames. */
  readonly framing: Framing;
  /** Request envelope codec. */
  readonly request: EnvelopeWire;
  /** Response envelope codec. */
  readonly response: EnvelopeWire;
  /** The error case, when the response envelope has one. */
  readonly error: ErrorChannel | undefined;
  /** Every method, in registration order. */
  readonly methods: readonly MethodCodec[];
  /** The method with this descriptor, if these codecs carry it. */
  method(desc: RpcMethod): MethodCodec | undefined;
  /** The method whose request case is `target`. */
  route(target: WireTarget): MethodCodec | undefined;
}

const cache = new WeakMap<AnyServiceDefinition, EnvelopeCodecs>();

/** The codecs of one service definition, built on first use and cached. */
export function codecsOf(def: AnyServiceDefinition): EnvelopeCodecs {
  let codecs = cache.get(def);
  if (codecs === undefined) {
    codecs = createEnvelopeCodecs([def]);
    cache.set(def, codecs);
  }
  return codecs;
}

/**
 * Builds the codecs of services that share one envelope pair (a server
 * serving them all on one listener). Callers check with
 * {@link envelopeBindingClash} that the services bind the pair alike (and
 * so are of one encoding).
 */
export function createEnvelopeCodecs(defs: readonly AnyServiceDefinition[]): EnvelopeCodecs {
  const first = defs[0];
  if (first === undefined) throw new Error("no service definition");
  if (isEncoded(first)) return (first.encoding as ServiceEncoding).createCodecs(defs as readonly EncodedServiceDefinition[]);
  return createProtobufCodecs(defs as readonly ServiceDefinition[], first);
}

/** The codecs of protobuf services sharing one envelope pair, from their bindings. */
function createProtobufCodecs(defs: readonly ServiceDefinition[], first: ServiceDefinition): EnvelopeCodecs {
  const errorCase = first.binding.response.error;
  const pending: { def: ServiceDefinition; desc: RpcMethod; binding: MethodBinding }[] = [];
  for (const def of defs) {
    for (const binding of def.binding.methods) {
      const desc = def.service.methods.find((m) => m.name === binding.name);
      if (desc === undefined) throw new Error(`method ${binding.name} is not in ${def.service.typeName}`);
      pending.push({ def, desc, binding });
    }
  }
  const responsePaths: CasePath[] = pending.map((m) => m.binding.response);
  if (errorCase !== undefined) responsePaths.push(errorCase);
  const request = createEnvelopeWire(
    first.requestEnvelope,
    first.binding.request,
    pending.map((m) => m.binding.request),
  );
  const response = createEnvelopeWire(first.responseEnvelope, first.binding.response, responsePaths);
  const methods: MethodCodec[] = pending.map(({ def, desc, binding }) => ({
    service: def,
    desc,
    binding,
    fullName: `${def.service.typeName}/${binding.name}`,
    request: request.target(binding.request),
    response: response.target(binding.response),
  }));
  const byDesc = new Map<RpcMethod, MethodCodec>(methods.map((m) => [m.desc, m]));
  const byRequest = new Map<WireTarget, MethodCodec>(methods.map((m) => [m.request, m]));
  let error: ErrorChannel | undefined;
  if (errorCase !== undefined) {
    const target: ProtoWireTarget = response.target(errorCase);
    error = { target, codec: createErrorCaseCodec(target.schema, errorCase) };
  }
  return {
    framing: varintFraming,
    request,
    response,
    error,
    methods,
    method: (desc) => byDesc.get(desc),
    route: (target) => byRequest.get(target),
  };
}

/**
 * Why two services cannot share one connection or listener, or undefined
 * when they can: they must use the same envelope pair, read the message id
 * and control code from the same fields, and have the same error case.
 */
export function envelopeBindingClash(a: AnyServiceDefinition, b: AnyServiceDefinition): string | undefined {
  if (isEncoded(a) || isEncoded(b)) {
    if (isEncoded(a) && isEncoded(b) && a.encoding === b.encoding) return (a.encoding as ServiceEncoding).clash(a, b);
    const name = (d: AnyServiceDefinition) => (isEncoded(d) ? d.encoding.name : "protobuf");
    return `${b.service.typeName} is encoded with ${name(b)}, but ${a.service.typeName} with ${name(a)}; one connection (and one listener) carries one encoding and one envelope pair`;
  }
  if (a.requestEnvelope.typeName !== b.requestEnvelope.typeName || a.responseEnvelope.typeName !== b.responseEnvelope.typeName) {
    return `${b.service.typeName} uses envelopes ${b.requestEnvelope.typeName}/${b.responseEnvelope.typeName}, but ${a.service.typeName} uses ${a.requestEnvelope.typeName}/${a.responseEnvelope.typeName}; one connection (and one listener) carries one envelope pair`;
  }
  const ra = a.binding.request;
  const rb = b.binding.request;
  const sa = a.binding.response;
  const sb = b.binding.response;
  const same =
    ra.id.number === rb.id.number &&
    ra.code.number === rb.code.number &&
    ra.metadata?.number === rb.metadata?.number &&
    ra.deadline?.number === rb.deadline?.number &&
    sa.id.number === sb.id.number &&
    sa.code.number === sb.code.number &&
    sa.metadata?.number === sb.metadata?.number &&
    sa.error?.path === sb.error?.path;
  if (same) return undefined;
  return `${b.service.typeName} reads the message id, control code, metadata or deadline of ${b.requestEnvelope.typeName}/${b.responseEnvelope.typeName} from other fields (or has another error case) than ${a.service.typeName}; services sharing envelopes must bind them alike`;
}
