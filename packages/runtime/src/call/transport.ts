import type { RpcError } from "../errors.js";
import type { StreamRequest, StreamResponse, UnaryRequest, UnaryResponse } from "./request.js";

/** The two verbs every transport, pool and interceptor chain implements. */
export interface CallTarget {
  /**
   * Runs a unary call. Rejects with an RpcError: the server's error, or
   * `cancelled`, `deadline_exceeded` (the request's signal aborted),
   * `unavailable`, `invalid_argument`, `resource_exhausted` from the client
   * side.
   */
  unary(request: UnaryRequest): Promise<UnaryResponse>;
  /**
   * Runs a streaming call (server, client or bidi streaming: the method's
   * kind says which), sending its request messages as the connection keeps
   * up; resolves once the call has started, with its response messages as
   * they arrive. Leaving the response's `for await` early cancels the call.
   * Rejects (or the response's iteration throws) as {@link unary} does, or
   * with what the request stream threw.
   */
  stream(request: StreamRequest): Promise<StreamResponse>;
}

/**
 * The call seam: everything a client calls through. Generated clients and
 * `createClient` use only this, so one connection (`connect`), a pool, an
 * in-memory transport and any of them with interceptors are
 * interchangeable.
 */
export interface Transport extends CallTarget {
  /**
   * Where calls go, for errors and interceptors: "host:port" for one
   * connection, the target of a pool, "memory:N" for the in-memory transport.
   */
  readonly target: string;
  /** Closes: calls in flight fail with `cancelled`, later calls with `unavailable`. */
  close(): void;
  /** Resolves (never rejects) with the reason once the transport has closed. */
  readonly closed: Promise<RpcError>;
}
