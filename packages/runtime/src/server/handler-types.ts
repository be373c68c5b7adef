import type {
  DescMethod,
  DescMethodBiDiStreaming,
  DescMethodClientStreaming,
  DescMethodServerStreaming,
  DescMethodUnary,
  DescService,
  MessageInitShape,
  MessageShape,
} from "@bufbuild/protobuf";
import type { ContextValues } from "../context-values.js";
import type { MessagePackMethod, MessagePackMethodSpec, MessagePackService } from "../messagepack/service.js";

/**
 * What a handler knows about the call it serves. `M` is the type of the
 * method's descriptor: protobuf-es's `DescMethod`, or a MessagePack method.
 */
export interface HandlerContext<M = DescMethod> {
  /** Aborts when the client cancels, the connection is lost, or the server shuts down. */
  readonly signal: AbortSignal;
  /** The client's address, "host:port". */
  readonly peer: string;
  /** The method, as "package.Service/Method". */
  readonly method: string;
  /** The method's descriptor. */
  readonly methodDesc: M;
  /** The message id of the call on its connection (a uint64). */
  readonly messageId: bigint;
  /** Values shared with the server's interceptors for this call. */
  readonly contextValues: ContextValues;
  /**
   * The metadata the client sent with the request (empty when none, or when
   * the envelope binds no metadata field).
   */
  readonly metadata: ReadonlyMap<string, string>;
  /**
   * Trailers to send with the call's final frame (the response, the
   * stream's End, or the error): set them here, from the handler or an
   * interceptor. They travel only when the envelope binds a metadata field.
   */
  readonly trailers: Map<string, string>;
  /**
   * When the call must be complete, in Date.now() milliseconds: from the
   * deadline the client sent (when the envelope binds a deadline field).
   * `signal` aborts then, and the call fails with `deadline_exceeded`.
   */
  readonly deadline: number | undefined;
  /** Milliseconds left to the deadline (at least 0), or undefined when the call has none. */
  timeoutMs(): number | undefined;
  /**
   * Options for a call this handler makes downstream: its signal, and what
   * is left of its deadline as `timeoutMs`, so the downstream call stops when
   * this one does. `client.get(req, ctx.callOptions())`.
   */
  callOptions(): { signal: AbortSignal; timeoutMs?: number };
}

/** A unary handler: the request in, the response (or a promise of it) out. */
export type UnaryHandler<I extends DescMethodUnary["input"], O extends DescMethodUnary["output"]> = (
  request: MessageShape<I>,
  ctx: HandlerContext,
) => Promise<MessageInitShape<O>> | MessageInitShape<O>;

/** A server-streaming handler: an async generator (or any async iterable) of responses. */
export type ServerStreamingHandler<I extends DescMethodServerStreaming["input"], O extends DescMethodServerStreaming["output"]> = (
  request: MessageShape<I>,
  ctx: HandlerContext,
) => AsyncIterable<MessageInitShape<O>>;

/**
 * A client-streaming handler: the requests as they arrive (read them with
 * `for await`; it ends when the client ends its side, and throws if the
 * call is cancelled), the one response (or a promise of it) out. The
 * response may come before the requests end; the rest are then dropped.
 */
export type ClientStreamingHandler<I extends DescMethodClientStreaming["input"], O extends DescMethodClientStreaming["output"]> = (
  requests: AsyncIterable<MessageShape<I>>,
  ctx: HandlerContext,
) => Promise<MessageInitShape<O>> | MessageInitShape<O>;

/**
 * A bidi-streaming handler: the requests as they arrive in, an async
 * generator (or any async iterable) of responses out. The call ends when the
 * responses end, whether or not the requests have.
 */
export type BiDiStreamingHandler<I extends DescMethodBiDiStreaming["input"], O extends DescMethodBiDiStreaming["output"]> = (
  requests: AsyncIterable<MessageShape<I>>,
  ctx: HandlerContext,
) => AsyncIterable<MessageInitShape<O>>;

/** The implementation of a service: one handler per rpc, named by its local name. */
export type ServiceImpl<S extends DescService> = {
  [P in keyof S["method"]]: S["method"][P] extends DescMethodUnary<infer I, infer O>
    ? UnaryHandler<I, O>
    : S["method"][P] extends DescMethodServerStreaming<infer I, infer O>
      ? ServerStreamingHandler<I, O>
      : S["method"][P] extends DescMethodClientStreaming<infer I, infer O>
        ? ClientStreamingHandler<I, O>
        : S["method"][P] extends DescMethodBiDiStreaming<infer I, infer O>
          ? BiDiStreamingHandler<I, O>
          : never;
};

/**
 * The implementation of a MessagePack service,
 * `MessagePackHandlers<typeof MyService>` (or of its methods' specs): one
 * handler per method, taking and returning the TypeScript types of its
 * schemas; unary handlers return the response (or a promise of it),
 * server-streaming handlers an async generator (or any async iterable).
 */
export type MessagePackHandlers<S> = MessagePackHandlersOf<S extends MessagePackService<infer M> ? M : S>;

/** {@link MessagePackHandlers} of a service's method specs. */
type MessagePackHandlersOf<M> = {
  [P in keyof M]: M[P] extends MessagePackMethodSpec<"unary", infer I, infer O>
    ? (request: I, ctx: HandlerContext<MessagePackMethod>) => Promise<O> | O
    : M[P] extends MessagePackMethodSpec<"server_streaming", infer I, infer O>
      ? (request: I, ctx: HandlerContext<MessagePackMethod>) => AsyncIterable<O>
      : never;
};
