import type { DescMethod, DescMethodServerStreaming, Message } from "@bufbuild/protobuf";
import type { CallOptions } from "../client/call-options.js";
import type { RpcError } from "../errors.js";
import type { ServiceDefinition } from "../service/service-definition.js";
import type { PoolCallInfo } from "./pool-events.js";
import { newAttempts, type Attempts } from "./retry-budget.js";
import type { PoolConnection } from "./slot.js";

/** What a pool stream needs of its pool (the pool's call paths, shared with unary calls). */
export interface StreamHost {
  beginCall(options: CallOptions | undefined): { deadline: number | undefined; info: PoolCallInfo | undefined };
  pickNow(key: string | undefined, excluded: ReadonlySet<PoolConnection> | undefined): PoolConnection | undefined;
  waitFor(
    key: string | undefined,
    excluded: ReadonlySet<PoolConnection> | undefined,
    deadline: number | undefined,
    signal: AbortSignal | undefined,
    attempts: Attempts | undefined,
    what: "call" | "connect",
    extraSignal?: AbortSignal,
  ): Promise<PoolConnection>;
  picked(pc: PoolConnection, info: PoolCallInfo | undefined): void;
  /** An attempt on `pc` that may have run failed with `error` (ejection may count it). */
  countCallError(pc: PoolConnection, error: RpcError): void;
  succeeded(pc: PoolConnection): void;
  afterFailure(
    pc: PoolConnection,
    method: DescMethod,
    e: unknown,
    attempts: Attempts,
    deadline: number | undefined,
    info: PoolCallInfo | undefined,
    excluded?: Set<PoolConnection>,
  ): Set<PoolConnection>;
}

const DONE: IteratorReturnResult<undefined> = { value: undefined, done: true };

/**
 * A server-streaming call through a pool. Until its first message it may be
 * retried on another connection like a unary call (the request is sent
 * again); from its first message on it is bound to its connection and never
 * retried: the caller has seen part of the answer.
 */
export class PoolStream implements AsyncIterator<Message> {
  private inner: AsyncIterator<Message> | undefined;
  private pc: PoolConnection | undefined;
  /** True once the first result (a message, or the end) arrived: from then on, calls pass straight through. */
  private bound = false;
  private finished = false;
  /** next() calls before the first result, answered in order. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly stop = new AbortController();
  private started: { deadline: number | undefined; info: PoolCallInfo | undefined } | undefined;

  constructor(
    private readonly pool: StreamHost,
    private readonly def: ServiceDefinition,
    private readonly method: DescMethod,
    private readonly input: unknown,
    private readonly options: CallOptions | undefined,
  ) {}

  next(): Promise<IteratorResult<Message>> {
    if (this.bound) return (this.inner as AsyncIterator<Message>).next();
    const result = this.queue.then(() => this.first());
    this.queue = result.catch(() => undefined);
    return result;
  }

  async return(): Promise<IteratorResult<Message>> {
    this.finished = true;
    this.stop.abort();
    const inner = this.inner;
    if (inner?.return !== undefined) await inner.return();
    const pc = this.pc;
    if (pc?.retiring !== undefined) pc.closeIfIdle();
    return DONE;
  }

  /** The first result, with retries; later next() calls queued behind it pass through once it is there. */
  private async first(): Promise<IteratorResult<Message>> {
    if (this.bound) return (this.inner as AsyncIterator<Message>).next();
    if (this.finished) return DONE;
    try {
      return await this.attempts();
    } catch (e) {
      // Failed for good: later next() calls answer done, as a failed stream's do.
      this.finished = true;
      throw e;
    }
  }

  private async attempts(): Promise<IteratorResult<Message>> {
    const pool = this.pool;
    this.started ??= pool.beginCall(this.options);
    const { deadline, info } = this.started;
    const key = this.options?.key;
    let excluded: Set<PoolConnection> | undefined;
    const attempts = newAttempts();
    for (;;) {
      const pc =
        pool.pickNow(key, excluded) ??
        (await pool.waitFor(key, excluded, deadline, this.options?.signal, attempts, "call", this.stop.signal));
      if (this.finished) return DONE;
      pool.picked(pc, info);
      let options = this.options;
      if (deadline !== undefined) options = { ...options, timeoutMs: Math.max(0, deadline - Date.now()) };
      const inner = pc.conn.stream(this.def, this.method as DescMethodServerStreaming, this.input, options)[Symbol.asyncIterator]();
      this.inner = inner;
      this.pc = pc;
      try {
        const result = await inner.next();
        this.bound = true;
        pool.succeeded(pc);
        return result;
      } catch (e) {
        this.inner = undefined;
        if (this.finished) throw e;
        excluded = pool.afterFailure(pc, this.method, e, attempts, deadline, info, excluded);
      }
    }
  }
}
