import type { DescMethodServerStreaming, DescMethodUnary, DescService, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
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
  /** Closes: calls in flight fail with `cancelled`, later calls with `unavailable`. */
  close(): void;
  /** Resolves (never rejects) with the reason once the transport has closed. */
  readonly closed: Promise<RpcError>;
}
