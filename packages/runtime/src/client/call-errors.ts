/** The errors a connection fails its calls with, each naming the method and the peer. */
import type { AnyRequest } from "../call/request.js";
import type { MethodCodec } from "../encoding/encoding.js";
import type { RpcMethod } from "../encoding/service.js";
import { Code, RpcError, type RpcErrorContext } from "../errors.js";

/** The method and peer, and the trailers of the frame that ended the call when there are any. */
export function callContext(method: MethodCodec, peer: string, trailers?: ReadonlyMap<string, string>): RpcErrorContext {
  const context: RpcErrorContext = { method: method.fullName, peer };
  if (trailers !== undefined) context.metadata = trailers;
  return context;
}

/**
 * The error of a call whose signal aborted with `reason`: an RpcError
 * reason as it is (the deadline's is `deadline_exceeded`), a TimeoutError
 * (`AbortSignal.timeout()`) as `deadline_exceeded`, anything else
 * `cancelled`.
 */
export function abortError(method: MethodCodec, peer: string, reason: unknown): RpcError {
  const context = callContext(method, peer);
  if (reason instanceof RpcError) return reason.withContext(context);
  if (reason instanceof Error && reason.name === "TimeoutError") {
    return new RpcError(Code.DeadlineExceeded, `call timed out: ${reason.message}`, [], { ...context, cause: reason });
  }
  return new RpcError(Code.Cancelled, "call cancelled by the client", [], { ...context, cause: reason });
}

/** The error of a method called with the other verb. */
export function kindError(req: AnyRequest, kind: RpcMethod["methodKind"], peer: string): RpcError {
  return new RpcError(
    Code.InvalidArgument,
    `${req.methodName} is ${req.method.methodKind}; call it with ${kind === "unary" ? "stream()" : "unary()"}`,
    [],
    { method: req.methodName, peer },
  );
}

/** The error of a server-streaming call whose request stream did not hold exactly one message. */
export function oneRequestError(method: MethodCodec, peer: string, what: "none" | "more"): RpcError {
  return new RpcError(
    Code.InvalidArgument,
    `the request stream of a server-streaming call held ${what === "none" ? "no message" : "more than one message"}`,
    [],
    callContext(method, peer),
  );
}
