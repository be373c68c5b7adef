/**
 * The call model's four types, shared by clients, servers, interceptors,
 * pools and transports: a request (one message, or a stream of them) and a
 * response (likewise). A call's request is built once, where the call
 * enters; the method's kind says whether its messages are one or a stream.
 */
import type { ContextValues } from "../context-values.js";
import type { AnyServiceDefinition, RpcMethod } from "../encoding/service.js";

/** What every request carries, on either side. */
interface RequestCommon {
  /** The service definition the method belongs to (of any encoding). */
  readonly service: AnyServiceDefinition;
  /** The method's descriptor (a protobuf `DescMethod`, or another encoding's method). */
  readonly method: RpcMethod;
  /** The method, as "package.Service/Method". */
  readonly methodName: string;
  /** On a client, where the call goes (the transport's target); on a server, the client's address. */
  readonly peer: string;
  /**
   * Aborts when the call must stop: the caller cancelled, the deadline
   * passed (its reason is then an RpcError `deadline_exceeded`), or on a
   * server, the client cancelled, the connection was lost or the server shut
   * down. An interceptor may pass on another signal that also aborts for
   * reasons of its own.
   */
  readonly signal: AbortSignal;
  /**
   * When the call must be complete, in Date.now() milliseconds; undefined
   * for no deadline. A client's request envelope carries what is left of it
   * when the call's first frame leaves (where the envelope binds a deadline
   * field). A client interceptor may set an earlier one: the call then
   * also aborts at it.
   */
  readonly deadline: number | undefined;
  /**
   * The request's metadata (auth tokens, trace context …). A client
   * interceptor may add to it; it travels where the envelope binds a
   * metadata field. On a server, what the client sent.
   */
  readonly metadata: Map<string, string>;
  /** Values shared by the interceptors (and, on a server, the handler) of this call. */
  readonly contextValues: ContextValues;
  /**
   * The routing key of a pool's `key-hash` picker: calls with the same key
   * go to the same server while it is up. Undefined for none, and on a server.
   */
  readonly key: string | undefined;
}

/** A request of one message: a unary call. */
export interface UnaryRequest<I = unknown> extends RequestCommon {
  readonly stream: false;
  /** The request message (for protobuf, a message or, before the first interceptor, its init object). */
  readonly message: I;
}

/**
 * A request of a streaming call: server, client or bidi streaming. Its
 * messages are a stream whatever the kind: a server-streaming call's has
 * one message. Wrap it to observe or change each one.
 */
export interface StreamRequest<I = unknown> extends RequestCommon {
  readonly stream: true;
  /** The request messages, read once. */
  readonly message: AsyncIterable<I>;
}

/** The response of a unary call. */
export interface UnaryResponse<O = unknown> {
  readonly stream: false;
  /** The response message. */
  readonly message: O;
  /** The trailers that came with it (empty when none, or when the envelope binds no metadata field). */
  readonly trailer: ReadonlyMap<string, string>;
}

/**
 * The response of a streaming call: its messages as they arrive (a
 * client-streaming call's one message). Wrap it to observe each one, the
 * end or the error.
 */
export interface StreamResponse<O = unknown> {
  readonly stream: true;
  /** The response messages. */
  readonly message: AsyncIterable<O>;
  /** The trailers that came with the call's final frame, filled in when the stream ends. */
  readonly trailer: ReadonlyMap<string, string>;
}

/** Any request. */
export type AnyRequest = UnaryRequest | StreamRequest;
/** Any response. */
export type AnyResponse = UnaryResponse | StreamResponse;
