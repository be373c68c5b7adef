import {
  create,
  type DescMethodBiDiStreaming,
  type DescMethodClientStreaming,
  type DescMethodServerStreaming,
  type DescMethodUnary,
  type Message,
} from "@bufbuild/protobuf";
import type { ContextValues } from "../context-values.js";
import { Code, RpcError } from "../errors.js";
import type { ServiceDefinition } from "../service/service-definition.js";
import { mapAsyncIterable } from "../util/map-iterable.js";
import type { HandlerContext } from "./handler-types.js";

/** What every call a server interceptor sees carries. */
interface ServerRequestCommon {
  /** The service definition the method belongs to. */
  readonly service: ServiceDefinition;
  /** The method, as "package.Service/Method". */
  readonly methodName: string;
  /** The client's address, "host:port". */
  readonly peer: string;
  /** Aborts when the client cancels, the connection is lost, or the server shuts down (the handler's `ctx.signal`). */
  readonly signal: AbortSignal;
  /** When the call must be complete, in Date.now() milliseconds, when the server knows it; undefined otherwise. */
  readonly deadline: number | undefined;
  /** Values shared with the handler (its `ctx.contextValues`). */
  readonly contextValues: ContextValues;
  /** The metadata the client sent (the handler's `ctx.metadata`); set trailers on `ctx.trailers`. */
  readonly metadata: ReadonlyMap<string, string>;
  /** The context the handler will get. */
  readonly ctx: HandlerContext;
}

/** A unary call on its way to its handler. */
export interface ServerUnaryRequest extends ServerRequestCommon {
  readonly kind: "unary";
  /** The method's descriptor. */
  readonly method: DescMethodUnary;
  /** The request message. */
  readonly message: Message;
}

/** A server-streaming call on its way to its handler. */
export interface ServerStreamRequest extends ServerRequestCommon {
  readonly kind: "server_streaming";
  /** The method's descriptor. */
  readonly method: DescMethodServerStreaming;
  /** The request message. */
  readonly message: Message;
}

/** A client-streaming call on its way to its handler. */
export interface ServerClientStreamRequest extends ServerRequestCommon {
  readonly kind: "client_streaming";
  /** The method's descriptor. */
  readonly method: DescMethodClientStreaming;
  /** The request messages as they arrive; wrap it to observe or change each one. */
  readonly message: AsyncIterable<Message>;
}

/** A bidi-streaming call on its way to its handler. */
export interface ServerBidiStreamRequest extends ServerRequestCommon {
  readonly kind: "bidi_streaming";
  /** The method's descriptor. */
  readonly method: DescMethodBiDiStreaming;
  /** The request messages as they arrive; wrap it to observe or change each one. */
  readonly message: AsyncIterable<Message>;
}

/** What a unary handler answered. */
export interface ServerUnaryResponse {
  readonly kind: "unary";
  /** The response message. */
  readonly message: Message;
}

/** What a server-streaming handler produces: wrap it to observe each message, the end or the error. */
export interface ServerStreamResponse {
  readonly kind: "server_streaming";
  /** The response messages. */
  readonly message: AsyncIterable<Message>;
}

/** What a client-streaming handler answered. */
export interface ServerClientStreamResponse {
  readonly kind: "client_streaming";
  /** The response message. */
  readonly message: Message;
}

/** What a bidi-streaming handler produces: wrap it to observe each message, the end or the error. */
export interface ServerBidiStreamResponse {
  readonly kind: "bidi_streaming";
  /** The response messages. */
  readonly message: AsyncIterable<Message>;
}

/** Any call a server interceptor sees. */
export type ServerRequest = ServerUnaryRequest | ServerStreamRequest | ServerClientStreamRequest | ServerBidiStreamRequest;
/** Any outcome a server interceptor sees. */
export type ServerResponse = ServerUnaryResponse | ServerStreamResponse | ServerClientStreamResponse | ServerBidiStreamResponse;
/** A step of the server chain: the next interceptor, or the handler. */
export type ServerCallFn = (request: ServerRequest) => Promise<ServerResponse>;

/**
 * A server interceptor: given the next step, returns a step that sees the
 * method, the peer, the request and the context, may refuse the call by
 * throwing an RpcError, and sees the outcome: the response, the stream's
 * messages, or the error. The first interceptor of a list is the outermost.
 */
export type ServerInterceptor = (next: ServerCallFn) => ServerCallFn;

/** A handler as the server holds it. */
export type AnyHandler = (request: never, ctx: never) => unknown;

/** Builds the chain of `interceptors` around a method's handler; the first interceptor is the outermost. */
export function chainServerInterceptors(interceptors: readonly ServerInterceptor[], handler: AnyHandler): ServerCallFn {
  const call = handler as (r: unknown, c: HandlerContext) => unknown;
  const last: ServerCallFn = (req) => {
    const output = req.method.output;
    let result: unknown;
    try {
      result = call(req.message, req.ctx);
    } catch (e) {
      return Promise.reject(e);
    }
    const kind = req.kind;
    if (kind === "server_streaming" || kind === "bidi_streaming") {
      return Promise.resolve({ kind, message: asMessages(output, result as AsyncIterable<unknown>) } as ServerResponse);
    }
    if (result !== null && typeof result === "object" && typeof (result as { then?: unknown }).then === "function") {
      return (result as Promise<unknown>).then((value) => ({ kind, message: create(output, value as never) }));
    }
    try {
      return Promise.resolve({ kind, message: create(output, result as never) });
    } catch (e) {
      return Promise.reject(e);
    }
  };
  let fn = last;
  for (let i = interceptors.length - 1; i >= 0; i--) fn = (interceptors[i] as ServerInterceptor)(fn);
  return fn;
}

/** Reads `signal` from the request's context, so the AbortController behind it is made only when read. */
const SIGNAL_FROM_CTX: PropertyDescriptor = {
  get(this: { ctx: HandlerContext }) {
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
  kind: ServerRequest["kind"],
  service: ServiceDefinition,
  method: ServerRequest["method"],
  methodName: string,
  peer: string,
  message: Message | AsyncIterable<Message>,
  ctx: HandlerContext,
): ServerRequest {
  const req = {
    kind,
    service,
    method,
    methodName,
    peer,
    deadline: ctx.deadline,
    contextValues: ctx.contextValues,
    metadata: ctx.metadata,
    ctx,
    message,
  };
  Object.defineProperty(req, "signal", SIGNAL_FROM_CTX);
  return req as unknown as ServerRequest;
}

/** A handler's stream items as messages (what interceptors see); return() reaches the handler's generator at once. */
function asMessages(output: DescMethodServerStreaming["output"], items: AsyncIterable<unknown>): AsyncIterable<Message> {
  return mapAsyncIterable(items, (item) => create(output, item as never));
}

/**
 * An interceptor that reports every error a handler (or an interceptor
 * inside this one) throws, or a stream fails with, to `report`, and passes
 * it on unchanged (`cancelled` is not reported: that is the client leaving). The server's `onHandlerError` option installs one as the
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
  return (next) => async (req) => {
    let res: ServerResponse;
    try {
      res = await next(req);
    } catch (e) {
      safeReport(e, req);
      throw e;
    }
    if (res.kind === "unary" || res.kind === "client_streaming") return res;
    const messages = res.message;
    return {
      kind: res.kind,
      message: (async function* () {
        try {
          yield* messages;
        } catch (e) {
          safeReport(e, req);
          throw e;
        }
      })(),
    } as ServerResponse;
  };
}
