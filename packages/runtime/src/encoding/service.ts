/**
 * The seam every encoding implements. A service definition, whatever its
 * encoding, names its service and methods (`RpcService`, `RpcMethod`: the
 * shape of protobuf-es's `DescService` and `DescMethod`) and carries its
 * {@link Encoding}, which builds the envelope codecs of the definitions that
 * use it (encoding.ts). Clients, servers, interceptors, pools and the memory
 * transport see only this seam: none asks which encoding a service uses.
 */
import type { MethodKind } from "../binding/binding.js";

/** A method: its names, its kind and the service it belongs to. */
export interface RpcMethod {
  /** The method name ("GetUser"). */
  readonly name: string;
  /** Its property name on clients and handler objects ("getUser"). */
  readonly localName: string;
  /** Unary, server, client or bidi streaming. */
  readonly methodKind: MethodKind;
  /** The service it belongs to. */
  readonly parent: { readonly typeName: string; readonly name: string };
  /**
   * Its `idempotency_level` (protobuf's MethodOptions numbers: 1 no side
   * effects, 2 idempotent), where the encoding has one: a pool retries a
   * call that may have run only when it is 1 or 2.
   */
  readonly idempotency?: number;
}

/** A service: its names and methods. */
export interface RpcService {
  /** The fully-qualified name ("echo.v1.EchoService"). */
  readonly typeName: string;
  /** The short name ("EchoService"). */
  readonly name: string;
  /** The methods, in declaration order. */
  readonly methods: readonly RpcMethod[];
}

/**
 * A service bound to its envelopes in some encoding: what clients and
 * servers are created from. Protobuf's `ServiceDefinition` (generated) and
 * MessagePack's `MessagePackService` are both one.
 */
export interface AnyServiceDefinition {
  /** The service: names and methods. */
  readonly service: RpcService;
  /** Its encoding, which builds its envelope codecs. */
  readonly encoding: Encoding;
}

/** Where the health service's methods travel in a service's envelopes (see `healthDefinition`). */
export interface HealthCases {
  /** The case of Check in both envelopes (a case path for protobuf, a body variant for MessagePack). Default "health_check" / "HealthCheck". */
  checkCase?: string;
  /** The case of Watch in both envelopes. Default "health_watch" / "HealthWatch". */
  watchCase?: string;
  /**
   * The health service's descriptor to bind, for tools that work from other
   * descriptors (a buf image), so calls name its methods; protobuf only.
   */
  service?: unknown;
}

/**
 * An encoding: how services of its kind are framed and enveloped
 * (protobuf, MessagePack). Applications pick one by how they define a
 * service (generated protobuf code, `defineMessagePackService`); what an
 * encoding does is the runtime's.
 */
export interface Encoding {
  /** The encoding's name, for messages ("protobuf", "MessagePack"). */
  readonly name: string;
}
