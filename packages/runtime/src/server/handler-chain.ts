/** A method's handler, and the server's interceptors around it. */
import type { CallFn } from "../call/interceptor.js";
import { applyInterceptors } from "../call/interceptor.js";
import type { AnyResponse } from "../call/request.js";
import type { MethodCodec } from "../encoding/encoding.js";
import type { RpcMethod } from "../encoding/service.js";
import { Code, RpcError } from "../errors.js";
import { mapAsyncIterable } from "../util/map-iterable.js";
import { OneMessage, readOneMessage } from "../util/one-message.js";
import type { HandlerContext } from "./handler-types.js";
import type { ServerInterceptor, ServerRequest } from "./interceptor.js";

/** A handler as the server holds it. */
export type AnyHandler = (request: never, ctx: never) => unknown;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === "object" && typeof (value as { then?: unknown }).then === "function";
}

/**
 * The end of a method's chain: runs its handler on the request's message(s)
 * and makes its value(s) response messages of the method's type (as
 * interceptors see them).
 */
function callHandler(handler: AnyHandler, method: MethodCodec): CallFn<ServerRequest> {
  const call = handler as (r: unknown, c: HandlerContext<RpcMethod>) => unknown;
  const toResponse = method.toResponse;
  const kind = method.desc.methodKind;
  const noRequest = (what: "none" | "more") =>
    new RpcError(
      Code.Internal,
      `the request stream of a server-streaming call held ${what === "none" ? "no message" : "more than one message"}`,
    );
  return (req) => {
    const ctx = req.ctx;
    const trailer = ctx.trailers;
    let result: unknown;
    try {
      if (kind === "server_streaming") {
        const input = readOneMessage(req.message as AsyncIterable<unknown>, noRequest);
        if (input instanceof Promise) {
          return input.then((one) => ({
            stream: true,
            message: mapAsyncIterable(call(one, ctx) as AsyncIterable<unknown>, toResponse),
            trailer,
          }));
        }
        result = call(input, ctx);
      } else {
        result = call(req.message, ctx);
      }
    } catch (e) {
      return Promise.reject(e);
    }
    if (kind === "server_streaming" || kind === "bidi_streaming") {
      return Promise.resolve({ stream: true, message: mapAsyncIterable(result as AsyncIterable<unknown>, toResponse), trailer });
    }
    const respond = (value: unknown): AnyResponse =>
      kind === "unary"
        ? { stream: false, message: toResponse(value), trailer }
        : { stream: true, message: new OneMessage(toResponse(value)), trailer };
    if (isThenable(result)) return Promise.resolve(result).then(respond);
    try {
      return Promise.resolve(respond(result));
    } catch (e) {
      return Promise.reject(e);
    }
  };
}

/** The chain of `interceptors` (outermost first) around a method's handler. */
export function chainServerInterceptors(
  interceptors: readonly ServerInterceptor[],
  handler: AnyHandler,
  method: MethodCodec,
): CallFn<ServerRequest> {
  return applyInterceptors(callHandler(handler, method), interceptors);
}

/** Reads `signal` from the request's context, so the AbortController behind it is made only when read. */
const SIGNAL_FROM_CTX: PropertyDescriptor = {
  get(this: { ctx: HandlerContext<RpcMethod> }) {
    return this.ctx.signal;
  },
  enumerable: true,
  configurable: true,
};

/**
 * The request a server interceptor sees. `signal` is an own accessor (so a
 * spread `{ ...req }` keeps it) reading the handler context's signal, whose
 * controller is created only when something reads it.
 */
export function createServerRequest(
  method: MethodCodec,
  peer: string,
  message: unknown,
  metadata: Map<string, string>,
  ctx: HandlerContext<RpcMethod>,
): ServerRequest {
  const kind = method.desc.methodKind;
  const req = {
    stream: kind !== "unary",
    service: method.service,
    method: method.desc,
    methodName: method.fullName,
    peer,
    deadline: ctx.deadline,
    metadata,
    contextValues: ctx.contextValues,
    key: undefined,
    ctx,
    message: kind === "server_streaming" ? new OneMessage(message) : message,
  };
  Object.defineProperty(req, "signal", SIGNAL_FROM_CTX);
  return req as unknown as ServerRequest;
}
