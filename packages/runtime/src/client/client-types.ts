import type {
  DescMethodBiDiStreaming,
  DescMethodClientStreaming,
  DescMethodServerStreaming,
  DescMethodUnary,
  DescService,
  MessageInitShape,
  MessageShape,
} from "@bufbuild/protobuf";
import type { MessagePackMethodSpec, MessagePackService } from "../messagepack/service.js";
import type { CallOptions } from "../call/call-options.js";

/** A unary method on a client: a request in, a promise of the response out. */
export type UnaryFn<I extends DescMethodUnary["input"], O extends DescMethodUnary["output"]> = (
  request: MessageInitShape<I>,
  options?: CallOptions,
) => Promise<MessageShape<O>>;

/** A server-streaming method on a client: a request in, an async iterable of responses out. */
export type ServerStreamingFn<I extends DescMethodServerStreaming["input"], O extends DescMethodServerStreaming["output"]> = (
  request: MessageInitShape<I>,
  options?: CallOptions,
) => AsyncIterable<MessageShape<O>>;

/**
 * A client-streaming method on a client: the requests in (sent as the
 * iterable yields them, while the connection keeps up), a promise of the
 * one response out. Not served or called by Rust protosocket-rpc peers.
 */
export type ClientStreamingFn<I extends DescMethodClientStreaming["input"], O extends DescMethodClientStreaming["output"]> = (
  requests: AsyncIterable<MessageInitShape<I>>,
  options?: CallOptions,
) => Promise<MessageShape<O>>;

/**
 * A bidi-streaming method on a client: the requests in, the responses out
 * as they arrive. The call starts when iteration starts; leaving the
 * `for await` early cancels it. Not served or called by Rust
 * protosocket-rpc peers.
 */
export type BiDiStreamingFn<I extends DescMethodBiDiStreaming["input"], O extends DescMethodBiDiStreaming["output"]> = (
  requests: AsyncIterable<MessageInitShape<I>>,
  options?: CallOptions,
) => AsyncIterable<MessageShape<O>>;

/**
 * The client of a service: one method per rpc, named by its local name.
 * Unary and client-streaming methods return a Promise, server-streaming and
 * bidi-streaming methods an AsyncIterable.
 */
export type Client<S extends DescService> = {
  [P in keyof S["method"]]: S["method"][P] extends DescMethodUnary<infer I, infer O>
    ? UnaryFn<I, O>
    : S["method"][P] extends DescMethodServerStreaming<infer I, infer O>
      ? ServerStreamingFn<I, O>
      : S["method"][P] extends DescMethodClientStreaming<infer I, infer O>
        ? ClientStreamingFn<I, O>
        : S["method"][P] extends DescMethodBiDiStreaming<infer I, infer O>
          ? BiDiStreamingFn<I, O>
          : never;
};

/**
 * The client of a MessagePack service, `MessagePackClient<typeof MyService>`
 * (or of its methods' specs): one method per method of its definition,
 * taking and returning the TypeScript types of its schemas. Unary methods
 * return a Promise, server-streaming methods an AsyncIterable (the request
 * is sent when iteration starts).
 */
export type MessagePackClient<S> = MessagePackClientOf<S extends MessagePackService<infer M> ? M : S>;

/** {@link MessagePackClient} of a service's method specs. */
type MessagePackClientOf<M> = {
  [P in keyof M]: M[P] extends MessagePackMethodSpec<"unary", infer I, infer O>
    ? (request: I, options?: CallOptions) => Promise<O>
    : M[P] extends MessagePackMethodSpec<"server_streaming", infer I, infer O>
      ? (request: I, options?: CallOptions) => AsyncIterable<O>
      : never;
};
