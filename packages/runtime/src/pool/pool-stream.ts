/**
 * Streaming calls through a pool. A server stream may go again on another
 * connection until its first message (its one request is sent again); from
 * then on it is bound to its connection. A client or bidi stream waits for
 * a connection, then runs there to its end.
 */
import type { StreamRequest, StreamResponse } from "../call/request.js";
import { readOneMessage, OneMessage } from "../util/one-message.js";
import { Code, RpcError } from "../errors.js";
import type { RetryingCall } from "./retrying-call.js";
import type { PoolConnection } from "./slot.js";

const DONE: IteratorReturnResult<undefined> = { value: undefined, done: true };

/** The trailers of a stream that reads them from the attempt that carried it, once there is one. */
class ForwardedTrailer implements ReadonlyMap<string, string> {
  /** The trailers of the attempt the stream is bound to. */
  target: ReadonlyMap<string, string> = new Map();

  get size(): number {
    return this.target.size;
  }
  get(key: string): string | undefined {
    return this.target.get(key);
  }
  has(key: string): boolean {
    return this.target.has(key);
  }
  forEach(fn: (value: string, key: string, map: ReadonlyMap<string, string>) => void, thisArg?: unknown): void {
    for (const [k, v] of this.target) fn.call(thisArg, v, k, this);
  }
  entries(): MapIterator<[string, string]> {
    return this.target.entries();
  }
  keys(): MapIterator<string> {
    return this.target.keys();
  }
  values(): MapIterator<string> {
    return this.target.values();
  }
  [Symbol.iterator](): MapIterator<[string, string]> {
    return this.target.entries();
  }
}

/**
 * A server-streaming call through a pool, as the iterator of its messages:
 * on the first `next()`, attempts run until one yields a first result (a
 * message, or the end) or the call may not go again; later `next()` calls
 * pass straight through to that attempt.
 */
export class PoolStream implements AsyncIterable<unknown>, AsyncIterator<unknown> {
  readonly trailer = new ForwardedTrailer();
  private inner: AsyncIterator<unknown> | undefined;
  private pc: PoolConnection | undefined;
  /** True once the first result arrived: from then on, calls pass straight through. */
  private bound = false;
  private finished = false;
  /** next() calls before the first result, answered in order. */
  private queue: Promise<unknown> = Promise.resolve();

  /**
   * @param call the call's attempts.
   * @param stop aborted by return(): ends a wait for a connection.
   */
  constructor(
    private readonly call: RetryingCall,
    private readonly stop: AbortController,
  ) {}

  [Symbol.asyncIterator](): AsyncIterator<unknown> {
    return this;
  }

  next(): Promise<IteratorResult<unknown>> {
    if (this.bound) return (this.inner as AsyncIterator<unknown>).next();
    const result = this.queue.then(() => this.first());
    this.queue = result.catch(() => undefined);
    return result;
  }

  async return(): Promise<IteratorResult<unknown>> {
    this.finished = true;
    this.stop.abort();
    const inner = this.inner;
    if (inner?.return !== undefined) await inner.return();
    const pc = this.pc;
    if (pc?.retiring !== undefined) pc.closeIfIdle();
    return DONE;
  }

  /** The first result, with retries; later next() calls queued behind it pass through once it is there. */
  private async first(): Promise<IteratorResult<unknown>> {
    if (this.bound) return (this.inner as AsyncIterator<unknown>).next();
    if (this.finished) return DONE;
    try {
      return await this.attempts();
    } catch (e) {
      // Failed for good: later next() calls answer done, as a failed stream's do.
      this.finished = true;
      throw e;
    }
  }

  private async attempts(): Promise<IteratorResult<unknown>> {
    const call = this.call;
    const req = call.request as StreamRequest;
    // Read once: each attempt sends the same one request.
    const input = await readOneMessage(
      req.message,
      (what) =>
        new RpcError(
          Code.InvalidArgument,
          `the request stream of a server-streaming call held ${what === "none" ? "no message" : "more than one message"}`,
        ),
    );
    const attempt: StreamRequest = { ...req, message: new OneMessage(input) };
    for (;;) {
      const pc = await call.connection();
      if (this.finished) return DONE;
      this.pc = pc;
      try {
        const res = await pc.conn.stream(attempt);
        const inner = res.message[Symbol.asyncIterator]();
        this.inner = inner;
        const result = await inner.next();
        this.trailer.target = res.trailer;
        this.bound = true;
        call.succeeded(pc);
        return result;
      } catch (e) {
        this.inner = undefined;
        if (this.finished) throw e;
        call.failed(pc, e);
      }
    }
  }
}

/**
 * A client- or bidi-streaming call through a pool: waits for a connection,
 * runs there, and reports how it ended to the pool (never retried).
 */
export async function requestStream(call: RetryingCall): Promise<StreamResponse> {
  const pc = await call.connection();
  let res: StreamResponse;
  try {
    res = await pc.conn.stream(call.request as StreamRequest);
  } catch (e) {
    call.ended(pc, e);
    throw e;
  }
  if (call.request.method.methodKind === "client_streaming") {
    call.ended(pc, undefined);
    return res;
  }
  const messages = res.message;
  return {
    ...res,
    message: {
      [Symbol.asyncIterator](): AsyncIterator<unknown> {
        const it = messages[Symbol.asyncIterator]();
        let over = false;
        const end = (error: unknown) => {
          if (over) return;
          over = true;
          call.ended(pc, error);
        };
        return {
          next: () =>
            it.next().then(
              (r) => {
                if (r.done === true) end(undefined);
                return r;
              },
              (e: unknown) => {
                end(e);
                throw e;
              },
            ),
          return: async () => {
            over = true;
            if (it.return !== undefined) await it.return();
            if (pc.retiring !== undefined) pc.closeIfIdle();
            return DONE;
          },
        };
      },
    },
  };
}
