/**
 * The seam every encoding implements, as the runtime uses it: the codecs
 * of the definitions that use it, and their health service. Definitions
 * carry it as their opaque {@link Encoding}; {@link encodingOf} reads it.
 */
import type { Any } from "@bufbuild/protobuf/wkt";
import type { MethodBinding } from "../binding/binding.js";
import type { Code, RpcError } from "../errors.js";
import type { Framing } from "../wire/framing.js";
import type { EnvelopeWire, WireTarget } from "./envelope-wire.js";
import type { AnyServiceDefinition, Encoding, HealthCases, RpcMethod } from "./service.js";

/** An encoding as the runtime uses it. */
export interface ServiceEncoding extends Encoding {
  /**
   * Builds the codecs of definitions of this encoding that share one
   * envelope pair (checked with {@link clash} first). Throws naming what is
   * wrong (two methods with one request case, say).
   */
  createCodecs(defs: readonly AnyServiceDefinition[]): EnvelopeCodecs;
  /** Why two definitions of this encoding cannot share a connection or listener; undefined when they can. */
  clash(a: AnyServiceDefinition, b: AnyServiceDefinition): string | undefined;
  /**
   * The health service (Check and Watch, grpc.health.v1's semantics) bound
   * to the envelopes of `def`. Its requests are `{ service: string }`, its
   * responses `{ status: number }` (the ServingStatus numbers).
   *
   * @throws naming the envelope and the cases to add when it has none.
   */
  health(def: AnyServiceDefinition, cases: HealthCases): AnyServiceDefinition;
}

/** An error as an envelope's error case carries it. */
export interface ErrorFields {
  /** The status code (numbers outside the gRPC set read as `unknown`). */
  readonly code: Code;
  /** The message text. */
  readonly message: string;
  /** Typed details, when the error type has a details field. */
  readonly details: Any[];
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
  /**
   * A request as interceptors see it: for protobuf, the message `create()`
   * makes of an init object (a message as it is); for MessagePack, the value
   * as it is. Throws when the value cannot be a request.
   */
  toRequest(value: unknown): unknown;
  /** A response (a handler's value) as interceptors see it; as {@link toRequest}. */
  toResponse(value: unknown): unknown;
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
  /** True when the request envelope carries the call's deadline (the server then ends the call at it too). */
  readonly sendsDeadline: boolean;
  /** Every method, in registration order. */
  readonly methods: readonly MethodCodec[];
  /** The method with this descriptor, if these codecs carry it. */
  method(desc: RpcMethod): MethodCodec | undefined;
  /** The method whose request case is `target`. */
  route(target: WireTarget): MethodCodec | undefined;
}

/** The encoding of `def`, as the runtime uses it. */
export function encodingOf(def: AnyServiceDefinition): ServiceEncoding {
  return def.encoding as ServiceEncoding;
}
