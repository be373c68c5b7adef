import type {
  DescMethodBiDiStreaming,
  DescMethodClientStreaming,
  DescMethodServerStreaming,
  DescMethodUnary,
  DescService,
  MessageInitShape,
  MessageShape,
} from "@bufbuild/protobuf";
import type { RpcError } from "../errors.js";
import type { ServiceDefinition } from "../service/service-definition.js";
import type { CallOptions } from "./call-options.js";

/**
 * The call seam: everything a client calls through. Generated clients and
 * {@link createClient} use only this, so a single connection ({@link connect}),
 * a transport with interceptors, an in-memory transport and a pool are
 * interchangeable.
 */
export interface Transport {
  /**
   * Where calls go, for errors and interceptors: "host:port" for one
   * connection, the target of a pool, "memory" for the in-memory transport.
   */
  readonly target: string;
  /**
   * Calls a unary method. Rejects with an RpcError: the server's error, or
   * `cancelled`, `deadline_exceeded`, `unavailable`, `invalid_argument`,
   * `resource_exhausted` from the client side.
   */
  unary<S extends DescService, I extends DescMethodUnary["input"], O extends DescMethodUnary["output"]>(
    def: ServiceDefinition<S>,
    method: DescMethodUnary<I, O>,
    input: MessageInitShape<I>,
    options?: CallOptions,
  ): Promise<MessageShape<O>>;
  /**
   * Calls a server-streaming method. The request is sent when iteration
   * starts; leaving the `for await` early cancels the call. Iteration throws
   * an RpcError as {@link unary} rejects.
   */
  stream<S extends DescService, I extends DescMethodServerStreaming["input"], O extends DescMethodServerStreaming["output"]>(
    def: ServiceDefinition<S>,
    method: DescMethodServerStreaming<I, O>,
    input: MessageInitShape<I>,
    options?: CallOptions,
  ): AsyncIterable<MessageShape<O>>;
  /**
   * Calls a client-streaming method: sends each message `input` yields,
   * pulling it only while the connection keeps up, then End when it is done,
   * and resolves with the one response. If the response (or an error) comes
   * first, `input` is no longer pulled (its iterator's `return()` is called).
   * Rejects as {@link unary} does, or with what `input` threw.
   */
  clientStream<S extends DescService, I extends DescMethodClientStreaming["input"], O extends DescMethodClientStreaming["output"]>(
    def: ServiceDefinition<S>,
    method: DescMethodClientStreaming<I, O>,
    input: AsyncIterable<MessageInitShape<I>>,
    options?: CallOptions,
  ): Promise<MessageShape<O>>;
  /**
   * Calls a bidi-streaming method: when iteration starts, sends what `input`
   * yields as {@link clientStream} does, while the responses arrive. Leaving
   * the `for await` early cancels the call. Iteration throws as
   * {@link stream} does, or with what `input` threw.
   */
  bidiStream<S extends DescService, I extends DescMethodBiDiStreaming["input"], O extends DescMethodBiDiStreaming["output"]>(
    def: ServiceDefinition<S>,
    method: DescMethodBiDiStreaming<I, O>,
    input: AsyncIterable<MessageInitShape<I>>,
    options?: CallOptions,
  ): AsyncIterable<MessageShape<O>>;
  /** Closes: calls in flight fail with `cancelled`, later calls with `unavailable`. */
  close(): void;
  /** Resolves (never rejects) with the reason once the transport has closed. */
  readonly closed: Promise<RpcError>;
}
