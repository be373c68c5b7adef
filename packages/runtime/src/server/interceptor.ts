/**
 * Server interceptors: the call model's interceptors (call/interceptor.ts)
 * over requests that also carry the handler's context, around a method's
 * handler.
 */
import type { Interceptor } from "../call/interceptor.js";
import type { AnyResponse, StreamRequest, StreamResponse, UnaryRequest } from "../call/request.js";
import type { RpcMethod } from "../encoding/service.js";
import { Code, RpcError } from "../errors.js";
import type { HandlerContext } from "./handler-types.js";

/** What a server's requests add to the call model's: the context the handler will get. */
interface ServerSide {
  /** The handler's context: set trailers on `ctx.trailers`. */
  readonly ctx: HandlerContext<RpcMethod>;
}

/** A unary call on its way to its handler. */
export type ServerUnaryRequest = UnaryRequest & ServerSide;
/** A streaming call on its way to its handler (a server-streaming call's request is a stream of one message). */
export type ServerStreamRequest = StreamRequest & ServerSide;
/** Any call a server interceptor sees. */
export type ServerRequest = ServerUnaryRequest | ServerStreamRequest;

/**
 * A server interceptor: an {@link Interceptor} over requests that carry the
 * handler's context. It sees the method, the peer, the request, the
 * context and the outcome (the response, the stream's messages, or the
 * error), and may refuse the call by throwing an RpcError.
 */
export type ServerInterceptor = Interceptor<ServerRequest>;

/**
 * `messages` observed: an error its iteration throws goes to `onError`
 * before it reaches the reader. `return()` reaches the source at once.
 */
function observeErrors<T>(messages: AsyncIterable<T>, onError: (e: unknown) => void): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      const it = messages[Symbol.asyncIterator]();
      const failed = (e: unknown): never => {
        onError(e);
        throw e;
      };
      return {
        next: () => {
          try {
            return it.next().then(undefined, failed);
          } catch (e) {
            return Promise.reject(failed(e));
          }
        },
        return: () => (it.return !== undefined ? it.return() : Promise.resolve({ value: undefined, done: true })),
      };
    },
  };
}

/**
 * An interceptor that reports every error a handler (or an interceptor
 * inside this one) throws, or a stream fails with, to `report`, and passes
 * it on unchanged (`cancelled` is not reported: that is the client
 * leaving). The server's `onHandlerError` option installs one as the
 * outermost interceptor.
 */
export function reportHandlerErrors(report: (error: RpcError, method: string, peer: string) => void): ServerInterceptor {
  const safeReport = (e: unknown, req: ServerRequest) => {
    const error = RpcError.from(e);
    // A call given up with `cancelled` (the client left, or the handler stopped on its signal) is not a failure.
    if (error.code === Code.Cancelled) return;
    try {
      report(error, req.methodName, req.peer);
    } catch {
      // A failing report must not change the call's outcome.
    }
  };
  return (next) => (req) => {
    let result: Promise<AnyResponse>;
    try {
      result = next(req);
    } catch (e) {
      safeReport(e, req);
      return Promise.reject(e);
    }
    return result.then(
      (res): AnyResponse => {
        if (!res.stream) return res;
        const stream: StreamResponse = { ...res, message: observeErrors(res.message, (e) => safeReport(e, req)) };
        return stream;
      },
      (e: unknown) => {
        safeReport(e, req);
        throw e;
      },
    );
  };
}
