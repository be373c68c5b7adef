/**
 * Where a call enters: its request is built here, once, from the caller's
 * input and options (checked here and nowhere else), and handed to a
 * transport's `unary` or `stream`. `createClient` builds a client's methods
 * from these; tools that call a transport directly use them too.
 */
import { createContextValues } from "../context-values.js";
import type { AnyServiceDefinition, RpcMethod } from "../encoding/service.js";
import { Code, RpcError } from "../errors.js";
import { toMetadata } from "../metadata.js";
import { createDeadlineSignal, type DeadlineSignal } from "../util/deadline-signal.js";
import { isAsyncIterable } from "../util/map-iterable.js";
import { OneMessage, readOneMessage } from "../util/one-message.js";
import { checkCallOptions, type CallOptions } from "./call-options.js";
import type { StreamRequest, StreamResponse, UnaryRequest, UnaryResponse } from "./request.js";
import type { Transport } from "./transport.js";

/** What a call enters: a transport's verbs and the name of where it goes. */
export type CallEntry = Pick<Transport, "unary" | "stream" | "target">;

type OnTrailer = CallOptions["onTrailer"];

const unwrap = (res: UnaryResponse): unknown => res.message;

/** Hands trailers to the caller's onTrailer, when there are any. */
function report(onTrailer: OnTrailer, trailer: ReadonlyMap<string, string> | undefined): void {
  if (onTrailer !== undefined && trailer !== undefined && trailer.size > 0) onTrailer(trailer);
}

/** The caller's options as a call's parts: its signal and deadline, metadata, values. Throws `invalid_argument`. */
function enter(
  transport: CallEntry,
  def: AnyServiceDefinition,
  method: RpcMethod,
  methodName: string,
  options: CallOptions | undefined,
): { common: Omit<UnaryRequest, "stream" | "message">; deadline: DeadlineSignal } {
  checkCallOptions(options);
  const peer = transport.target;
  const metadata = toMetadata("metadata", options?.metadata);
  const timeoutMs = options?.timeoutMs;
  const deadline = createDeadlineSignal(
    options?.signal,
    timeoutMs,
    () => new RpcError(Code.DeadlineExceeded, `no response within ${timeoutMs} ms (timeoutMs)`, [], { method: methodName, peer }),
  );
  return {
    common: {
      service: def,
      method,
      methodName,
      peer,
      signal: deadline.signal,
      deadline: deadline.deadline,
      metadata,
      contextValues: options?.contextValues ?? createContextValues(),
      key: options?.key,
    },
    deadline,
  };
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
    let parts: ReturnType<typeof enter>;
    try {
      parts = enter(transport, def, method, methodName, options);
    } catch (e) {
      return Promise.reject(e);
    }
    const request: UnaryRequest = { stream: false, ...parts.common, message: input };
    const { cleanup } = parts.deadline;
    const onTrailer = options?.onTrailer;
    let result: Promise<UnaryResponse>;
    try {
      result = transport.unary(request);
    } catch (e) {
      cleanup();
      return Promise.reject(e);
    }
    if (onTrailer === undefined && parts.deadline.deadline === undefined) return result.then(unwrap);
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

/** The stream request of a call whose input is `input` (one message, or the caller's stream of them). */
function streamRequest(method: RpcMethod, common: Omit<StreamRequest, "stream" | "message">, input: unknown): StreamRequest {
  const kind = method.methodKind;
  if (kind === "client_streaming" || kind === "bidi_streaming") {
    if (!isAsyncIterable(input)) {
      throw new RpcError(Code.InvalidArgument, "the requests of a client- or bidi-streaming call must be an AsyncIterable", [], {
        method: common.methodName,
        peer: common.peer,
      });
    }
    return { stream: true, ...common, message: input };
  }
  return { stream: true, ...common, message: new OneMessage(input) };
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
    const { common, deadline } = enter(transport, def, method, methodName, options);
    const onTrailer = options?.onTrailer;
    try {
      const res = await transport.stream(streamRequest(method, common, input));
      const message = await readOneMessage(
        res.message,
        (what) =>
          new RpcError(Code.Internal, `the call ended with ${what === "none" ? "no response" : "more than one response"}`, [], {
            method: methodName,
            peer: common.peer,
          }),
      );
      report(onTrailer, res.trailer);
      return message;
    } catch (e) {
      if (e instanceof RpcError) report(onTrailer, e.metadata);
      throw e;
    } finally {
      deadline.cleanup();
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
      new ResponseStream(() => enter(transport, def, method, methodName, options), transport, method, input, options?.onTrailer),
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
  private deadline: DeadlineSignal | undefined;
  private finished = false;
  private failureSeen = false;
  /** The calls once the call is open: straight through, or with the end and errors watched. */
  private watch = false;

  constructor(
    private readonly start: () => ReturnType<typeof enter>,
    private readonly transport: CallEntry,
    private readonly method: RpcMethod,
    private readonly input: unknown,
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
      const { common, deadline } = this.start();
      this.deadline = deadline;
      this.watch = deadline.deadline !== undefined || this.onTrailer !== undefined;
      try {
        const res = await this.transport.stream(streamRequest(this.method, common, this.input));
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
    this.deadline?.cleanup();
    report(this.onTrailer, error instanceof RpcError ? error.metadata : trailer);
  }
}
