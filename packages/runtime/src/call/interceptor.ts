/**
 * Interceptors: functions around a call, on either side. One vocabulary
 * (call/request.ts) serves both; a server's requests also carry the
 * handler's context.
 */
import { codecsOf } from "../encoding/codecs.js";
import { Code, RpcError } from "../errors.js";
import { createDeadlineSignal, deadlineOf } from "../util/deadline-signal.js";
import { invalidOption } from "../util/validate.js";
import { mapAsyncIterable } from "../util/map-iterable.js";
import type { AnyRequest, AnyResponse, StreamRequest, StreamResponse, UnaryRequest, UnaryResponse } from "./request.js";
import type { CallTarget, Transport } from "./transport.js";

/** A step of a chain: the next interceptor, or the call itself. */
export type CallFn<R extends AnyRequest = AnyRequest> = (request: R) => Promise<AnyResponse>;

/**
 * An interceptor: given the next step, returns a step that may look at or
 * change the request (pass `{ ...req, … }` on), call `next` (or not: throw an
 * RpcError to refuse the call), and look at or change the response. The
 * first interceptor of a list is the outermost. The same function can serve
 * clients and servers when written for any request type:
 *
 * ```ts
 * const logger: Interceptor = (next) => async (req) => {
 *   const res = await next(req);
 *   console.log(req.methodName, "ok");
 *   return res;
 * };
 * ```
 */
export type Interceptor<R extends AnyRequest = AnyRequest> = (next: CallFn<R>) => CallFn<R>;

/** `next` inside `interceptors`: the first interceptor is the outermost. */
export function applyInterceptors<R extends AnyRequest>(next: CallFn<R>, interceptors: readonly Interceptor<R>[]): CallFn<R> {
  let fn = next;
  for (let i = interceptors.length - 1; i >= 0; i--) fn = (interceptors[i] as Interceptor<R>)(fn);
  return fn;
}

/**
 * Checks that `interceptors` is an array of functions (undefined: none).
 *
 * @throws RpcError `invalid_argument` naming the option `name`.
 */
export function checkInterceptors<R extends AnyRequest>(name: string, interceptors: unknown): readonly Interceptor<R>[] {
  if (interceptors === undefined) return [];
  if (!Array.isArray(interceptors) || interceptors.some((i) => typeof i !== "function")) {
    throw invalidOption(name, interceptors, "an array of interceptor functions");
  }
  return interceptors as readonly Interceptor<R>[];
}

/** `value` made a request message by `make`; `invalid_argument` when it cannot be one. */
function toRequest(make: (value: unknown) => unknown, value: unknown): unknown {
  try {
    return make(value);
  } catch (e) {
    throw new RpcError(Code.InvalidArgument, `invalid request: ${e instanceof Error ? e.message : String(e)}`, [], { cause: e });
  }
}

/** The request's message(s) as interceptors see them: made by its encoding from what the caller passed. */
function normalised(req: AnyRequest): AnyRequest {
  const method = codecsOf(req.service).method(req.method);
  if (method === undefined) return req;
  const make = method.toRequest;
  if (!req.stream) return { ...req, message: toRequest(make, req.message) };
  return { ...req, message: mapAsyncIterable(req.message, (m) => toRequest(make, m)) };
}

/** What an interceptor returned, checked against the kind of call it was given. */
function checked(req: AnyRequest, res: AnyResponse): AnyResponse {
  if (res === null || typeof res !== "object" || res.stream !== req.stream) {
    throw new RpcError(
      Code.Internal,
      `an interceptor answered a ${req.stream ? "streaming" : "unary"} call with ${res === null || typeof res !== "object" ? String(res) : `a ${res.stream ? "stream" : "unary"} response`}`,
      [],
      { method: req.methodName, peer: req.peer },
    );
  }
  return res;
}

/**
 * Runs `req` on `inner`. When an interceptor set a deadline earlier than
 * its signal's (or one its signal does not carry), the call gets a signal
 * that also aborts then, so the deadline holds on the client too.
 */
function callInner(inner: CallTarget, req: AnyRequest): Promise<AnyResponse> {
  const deadline = req.deadline;
  if (deadline === undefined || deadline >= (deadlineOf(req.signal) ?? Number.POSITIVE_INFINITY)) {
    return req.stream ? inner.stream(req) : inner.unary(req);
  }
  const joined = createDeadlineSignal(
    req.signal,
    Math.max(0, deadline - Date.now()),
    () => new RpcError(Code.DeadlineExceeded, "the deadline an interceptor set passed", [], { method: req.methodName, peer: req.peer }),
  );
  const cleanup = joined.cleanup;
  if (!req.stream) {
    return inner.unary({ ...req, signal: joined.signal, deadline }).finally(cleanup);
  }
  return inner.stream({ ...req, signal: joined.signal, deadline }).then(
    (res) => ({ ...res, message: afterEnd(res.message, cleanup) }),
    (e: unknown) => {
      cleanup();
      throw e;
    },
  );
}

/** `messages` with `done` called once when they end, fail or are left. */
function afterEnd<T>(messages: AsyncIterable<T>, done: () => void): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      const it = messages[Symbol.asyncIterator]();
      return {
        next: () =>
          it.next().then(
            (r) => {
              if (r.done === true) done();
              return r;
            },
            (e: unknown) => {
              done();
              throw e;
            },
          ),
        return: () => {
          done();
          return it.return !== undefined ? it.return() : Promise.resolve({ value: undefined, done: true });
        },
      };
    },
  };
}

/**
 * The two verbs of `inner` with `interceptors` around them (outermost
 * first); `inner` itself when there are none, so calls without
 * interceptors cost nothing extra. Before the first interceptor, a request's
 * message (or each of its stream's) is made a message of its method's type
 * (protobuf's `create()`), so interceptors see messages, not init objects.
 */
export function interceptCalls(inner: CallTarget, interceptors: readonly Interceptor[]): CallTarget {
  if (interceptors.length === 0) return inner;
  const chain = applyInterceptors<AnyRequest>((req) => callInner(inner, req), interceptors);
  const run = (req: AnyRequest): Promise<AnyResponse> => {
    let start: AnyRequest;
    try {
      start = normalised(req);
    } catch (e) {
      return Promise.reject(RpcError.from(e).withContext({ method: req.methodName, peer: req.peer }));
    }
    let result: Promise<AnyResponse>;
    try {
      result = chain(start);
    } catch (e) {
      return Promise.reject(e);
    }
    return result.then((res) => checked(req, res));
  };
  return {
    unary: (req: UnaryRequest) => run(req) as Promise<UnaryResponse>,
    stream: (req: StreamRequest) => run(req) as Promise<StreamResponse>,
  };
}

/**
 * `transport` with `interceptors` around every call (outermost first);
 * `transport` itself when there are none.
 */
export function withInterceptors(transport: Transport, interceptors: readonly Interceptor[]): Transport {
  const checked = checkInterceptors("interceptors", interceptors);
  const calls = interceptCalls(transport, checked);
  if (calls === transport) return transport;
  return {
    unary: calls.unary,
    stream: calls.stream,
    get target() {
      return transport.target;
    },
    get closed() {
      return transport.closed;
    },
    close: () => transport.close(),
  };
}
