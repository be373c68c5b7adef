import type { DescMethod, DescMethodBiDiStreaming, Message } from "@bufbuild/protobuf";
import type { CallOptions } from "../client/call-options.js";
import { neverRan } from "../client/never-ran.js";
import { RpcError } from "../errors.js";
import type { ServiceDefinition } from "../service/service-definition.js";
import type { PoolCallInfo } from "./pool-events.js";
import type { StreamHost } from "./pool-stream.js";
import type { PoolConnection } from "./slot.js";

const DONE: IteratorReturnResult<undefined> = { value: undefined, done: true };

/**
 * Picks the connection of a request-streaming call: one ready now, or the
 * first to come up within the call's deadline and the pool's
 * waitForReadyMs. Returns it with the call's options for that connection
 * (the time left of the deadline).
 */
export async function pickForRequestStream(
  pool: StreamHost,
  options: CallOptions | undefined,
  stop?: AbortSignal,
): Promise<{ pc: PoolConnection; options: CallOptions | undefined; info: PoolCallInfo | undefined }> {
  const { deadline, info } = pool.beginCall(options);
  const key = options?.key;
  const pc = pool.pickNow(key, undefined) ?? (await pool.waitFor(key, undefined, deadline, options?.signal, undefined, "call", stop));
  pool.picked(pc, info);
  const callOptions = deadline === undefined ? options : { ...options, timeoutMs: Math.max(0, deadline - Date.now()) };
  return { pc, options: callOptions, info };
}

/** Records how a request-streaming call on `pc` ended: the pool's bookkeeping, never a retry. */
export function settleRequestStream(pool: StreamHost, pc: PoolConnection, info: PoolCallInfo | undefined, error: unknown): void {
  if (error === undefined) {
    pool.succeeded(pc);
    return;
  }
  const last = info?.attempts[info.attempts.length - 1];
  if (last !== undefined && error instanceof RpcError) last.error = error;
  if (error instanceof RpcError && !neverRan(error)) pool.countCallError(pc, error);
  if (pc.retiring !== undefined) pc.closeIfIdle();
}

/**
 * A bidi-streaming call through a pool. It waits for a connection when its
 * iteration starts, then runs there to its end; it is never retried, since
 * its requests are read once, as they are sent.
 */
export class PoolBidiStream implements AsyncIterator<Message> {
  private inner: AsyncIterator<Message> | undefined;
  private pc: PoolConnection | undefined;
  private info: PoolCallInfo | undefined;
  private opening: Promise<AsyncIterator<Message>> | undefined;
  private finished = false;
  private readonly stop = new AbortController();

  constructor(
    private readonly pool: StreamHost,
    private readonly def: ServiceDefinition,
    private readonly method: DescMethod,
    private readonly input: AsyncIterable<unknown>,
    private readonly options: CallOptions | undefined,
  ) {}

  async next(): Promise<IteratorResult<Message>> {
    if (this.finished) return DONE;
    const inner = this.inner ?? (await this.open());
    try {
      const result = await inner.next();
      if (result.done === true) this.settle(undefined);
      return result;
    } catch (e) {
      this.settle(e);
      throw e;
    }
  }

  async return(): Promise<IteratorResult<Message>> {
    if (this.finished) return DONE;
    this.finished = true;
    this.stop.abort();
    if (this.inner === undefined && this.opening !== undefined) await this.opening.catch(() => undefined);
    const inner = this.inner;
    if (inner?.return !== undefined) await inner.return();
    const pc = this.pc;
    if (pc?.retiring !== undefined) pc.closeIfIdle();
    return DONE;
  }

  private open(): Promise<AsyncIterator<Message>> {
    this.opening ??= (async () => {
      try {
        const picked = await pickForRequestStream(this.pool, this.options, this.stop.signal);
        this.pc = picked.pc;
        this.info = picked.info;
        const inner = picked.pc.conn
          .bidiStream(this.def, this.method as DescMethodBiDiStreaming, this.input as AsyncIterable<never>, picked.options)
          [Symbol.asyncIterator]();
        this.inner = inner;
        return inner;
      } catch (e) {
        this.finished = true;
        throw e;
      }
    })();
    return this.opening;
  }

  private settle(error: unknown): void {
    if (this.finished) return;
    this.finished = true;
    if (this.pc !== undefined) settleRequestStream(this.pool, this.pc, this.info, error);
  }
}
