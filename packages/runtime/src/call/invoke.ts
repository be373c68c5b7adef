/**
 * Where a call enters: its request is built here, once, from the caller's
 * input and options (checked there and nowhere else: call-request.ts), and
 * handed to a transport's `unary` or `stream`. `createClient` builds a
 * client's methods from these; tools that call a transport directly use them
 * too.
 */
import type { AnyServiceDefinition, RpcMethod } from "../encoding/service.js";
import { Code, RpcError } from "../errors.js";
import { OneMessage, readOneMessage } from "../util/one-message.js";
import type { CallOptions } from "./call-options.js";
import { buildRequest, type PreparedRequest } from "./call-request.js";
import type { StreamRequest, StreamResponse, UnaryRequest, UnaryResponse } from "./request.js";
import type { Transport } from "./transport.js";

/** What a call enters: a transport's verbs and the name of where it goes. */
export type CallEntry = Pick<Transport, "unary" | "stream" | "target">;

type OnTrailer = CallOptions["onTrailer"];

const unwrap = (res: UnaryResponse): unknown => res.message;

const NO_CLEANUP = (): void => {};

/** Hands trailers to the caller's onTrailer, when there are any. */
function report(onTrailer: OnTrailer, trailer: ReadonlyMap<string, string> | undefined): void {
  if (onTrailer !== undefined && trailer !== undefined && trailer.size > 0) onTrailer(trailer);
}

/** "package.Service/Method". */
function nameOf(def: AnyServiceDefinition, method: RpcMethod): string {
  return `${def.service.typeName}/${method.name}`;
}

/**
 * A unary method's caller on `transport`: `(input, options) => Promise` of
 * the response message.
 */
export function unaryCaller(
  transport: CallEntry,
  def: AnyServiceDefinition,
  method: RpcMethod,
): (input: unknown, options?: CallOptions) => Promise<unknown> {
  const methodName = nameOf(def, method);
  return (input, options) => {
    let prepared: PreparedRequest;
    let result: Promise<UnaryResponse>;
    try {
      prepared = buildRequest(transport.target, def, method, methodName, input, options);
    } catch (e) {
      return Promise.reject(e);
    }
    const { request, cleanup } = prepared;
    try {
      result = transport.unary(request as UnaryRequest);
    } catch (e) {
      cleanup();
      return Promise.reject(e);
    }
    const onTrailer = options?.onTrailer;
    if (onTrailer === undefined && request.deadline === undefined) return result.then(unwrap);
    return result.then(
      (res) => {
        cleanup();
        report(onTrailer, res.trailer);
        return res.message;
      },
      (e: unknown) => {
        cleanup();
        if (e instanceof RpcError) report(onTrailer, e.metadata);
        throw e;
      },
    );
  };
}

/** The request of a streaming call whose input is `input`: one message (server streaming), or the caller's stream of them. */
function streamRequest(
  transport: CallEntry,
  def: AnyServiceDefinition,
  method: RpcMethod,
  methodName: string,
  input: unknown,
  options: CallOptions | undefined,
): PreparedRequest {
  const message = method.methodKind === "server_streaming" ? new OneMessage(input) : input;
  return buildRequest(transport.target, def, method, methodName, message, options);
}

/**
 * A client-streaming method's caller: `(requests, options) => Promise` of
 * the one response message.
 */
export function clientStreamCaller(
  transport: CallEntry,
  def: AnyServiceDefinition,
  method: RpcMethod,
): (input: unknown, options?: CallOptions) => Promise<unknown> {
  const methodName = nameOf(def, method);
  return async (input, options) => {
    const { request, cleanup } = streamRequest(transport, def, method, methodName, input, options);
    const onTrailer = options?.onTrailer;
    try {
      const res = await transport.stream(request as StreamRequest);
      const message = await readOneMessage(
        res.message,
        (what) =>
          new RpcError(Code.Internal, `the call ended with ${what === "none" ? "no response" : "more than one response"}`, [], {
            method: methodName,
            peer: request.peer,
          }),
      );
      report(onTrailer, res.trailer);
      return message;
    } catch (e) {
      if (e instanceof RpcError) report(onTrailer, e.metadata);
      throw e;
    } finally {
      cleanup();
    }
  };
}

const DONE: IteratorReturnResult<undefined> = { value: undefined, done: true };

/**
 * A server- or bidi-streaming method's caller: `(input, options) =>
 * AsyncIterable` of the responses. The call starts when iteration starts;
 * leaving the `for await` early cancels it.
 */
export function streamCaller(
  transport: CallEntry,
  def: AnyServiceDefinition,
  method: RpcMethod,
): (input: unknown, options?: CallOptions) => AsyncIterable<unknown> {
  const methodName = nameOf(def, method);
  return (input, options) => ({
    [Symbol.asyncIterator]: () =>
      new ResponseStream(() => streamRequest(transport, def, method, methodName, input, options), transport, options?.onTrailer),
  });
}

/**
 * The iterator a streaming method returns: the call starts on the first
 * `next()`. Once it runs, each `next()` is the transport's own, plus one
 * `then()` only when the call has a deadline to clear or trailers to report.
 */
class ResponseStream implements AsyncIterator<unknown> {
  private inner: AsyncIterator<unknown> | undefined;
  private opening: Promise<AsyncIterator<unknown>> | undefined;
  private response: StreamResponse | undefined;
  private cleanup = NO_CLEANUP;
  private finished = false;
  private failureSeen = false;
  /** The calls once the call is open: straight through, or with the end and errors watched. */
  private watch = false;

  constructor(
    private readonly prepare: () => PreparedRequest,
    private readonly transport: CallEntry,
    private readonly onTrailer: OnTrailer,
  ) {}

  next(): Promise<IteratorResult<unknown>> {
    const inner = this.inner;
    if (inner === undefined) {
      // When the call cannot start, the first next() rejects and later ones end, as a failed stream's do.
      return this.open().then(
        (i) => this.step(i),
        (e: unknown) => {
          if (this.failureSeen) return DONE;
          this.failureSeen = true;
          throw e;
        },
      );
    }
    if (!this.watch) return inner.next();
    return this.step(inner);
  }

  async return(): Promise<IteratorResult<unknown>> {
    if (this.inner === undefined && this.opening !== undefined) await this.opening.catch(() => undefined);
    const inner = this.inner;
    this.finish(undefined);
    if (inner?.return !== undefined) await inner.return();
    return DONE;
  }

  private open(): Promise<AsyncIterator<unknown>> {
    this.opening ??= (async () => {
      const { request, cleanup } = this.prepare();
      this.cleanup = cleanup;
      this.watch = request.deadline !== undefined || this.onTrailer !== undefined;
      try {
        const res = await this.transport.stream(request as StreamRequest);
        this.response = res;
        const inner = res.message[Symbol.asyncIterator]();
        this.inner = inner;
        return inner;
      } catch (e) {
        this.finish(e);
        throw e;
      }
    })();
    return this.opening;
  }

  private step(inner: AsyncIterator<unknown>): Promise<IteratorResult<unknown>> {
    let next: Promise<IteratorResult<unknown>>;
    try {
      next = inner.next();
    } catch (e) {
      // An interceptor's iterator that throws instead of rejecting.
      this.finish(e);
      return Promise.reject(e);
    }
    return next.then(
      (r) => {
        if (r.done === true) this.finish(undefined, this.response?.trailer);
        return r;
      },
      (e: unknown) => {
        this.finish(e);
        throw e;
      },
    );
  }

  /** The call is over: its timer goes, and the caller gets its trailers (or the error's). */
  private finish(error: unknown, trailer?: ReadonlyMap<string, string>): void {
    if (this.finished) return;
    this.finished = true;
    this.cleanup();
    report(this.onTrailer, error instanceof RpcError ? error.metadata : trailer);
  }
}
