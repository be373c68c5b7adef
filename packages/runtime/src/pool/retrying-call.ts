/**
 * One call through a pool, whatever its kind: the connection for each
 * attempt (ready now, or the first to come up within the call's deadline
 * and the pool's waitForReadyMs), and after a failed attempt, whether the
 * call may go again elsewhere. A unary call and a server stream before its
 * first message retry; a request stream never does (its requests are read
 * once, as they are sent), but its outcome is counted alike.
 */
import type { AnyRequest } from "../call/request.js";
import { neverRan } from "../client/never-ran.js";
import { RpcError } from "../errors.js";
import type { PoolCallInfo } from "./pool-events.js";
import { newAttempts, type Attempts } from "./retry-budget.js";
import type { PoolConnection } from "./slot.js";

/** What a retrying call needs of its pool. */
export interface AttemptHost {
  /** A connection for a call now, or undefined when the call must wait. */
  pickNow(key: string | undefined, excluded: ReadonlySet<PoolConnection> | undefined): PoolConnection | undefined;
  /** Waits for a connection, up to the call's deadline and waitForReadyMs; `stop` also ends the wait. */
  waitFor(
    key: string | undefined,
    excluded: ReadonlySet<PoolConnection> | undefined,
    deadline: number | undefined,
    signal: AbortSignal | undefined,
    attempts: Attempts | undefined,
    what: "call",
    stop?: AbortSignal,
  ): Promise<PoolConnection>;
  /** Counts a pick. */
  picked(pc: PoolConnection, info: PoolCallInfo | undefined): void;
  /** An attempt on `pc` succeeded. */
  succeeded(pc: PoolConnection): void;
  /** An attempt that may have run failed with `error` (ejection may count it). */
  countCallError(pc: PoolConnection, error: RpcError): void;
  /**
   * An attempt on `pc` failed with `e`, counted in `attempts`: throws `e`
   * when the call may not go again; else returns the connections to avoid.
   */
  afterFailure(
    pc: PoolConnection,
    request: AnyRequest,
    e: unknown,
    attempts: Attempts,
    info: PoolCallInfo | undefined,
    excluded: Set<PoolConnection> | undefined,
  ): Set<PoolConnection>;
}

/** The attempts of one call through a pool. */
export class RetryingCall {
  private readonly attempts: Attempts = newAttempts();
  private excluded: Set<PoolConnection> | undefined;

  /**
   * @param pool the pool.
   * @param request the call's request (every attempt sends it, with its signal and deadline).
   * @param info where the attempts are recorded for interceptors.
   * @param stop ends a wait for a connection (the caller stopped reading a stream).
   */
  constructor(
    private readonly pool: AttemptHost,
    readonly request: AnyRequest,
    private readonly info: PoolCallInfo | undefined,
    private readonly stop?: AbortSignal,
  ) {}

  /** The connection of the next attempt: one ready now, or the first to come up. */
  connection(): Promise<PoolConnection> {
    const pool = this.pool;
    const req = this.request;
    const pc = pool.pickNow(req.key, this.excluded);
    if (pc !== undefined) {
      pool.picked(pc, this.info);
      return Promise.resolve(pc);
    }
    return pool.waitFor(req.key, this.excluded, req.deadline, req.signal, this.attempts, "call", this.stop).then((p) => {
      pool.picked(p, this.info);
      return p;
    });
  }

  /** The attempt on `pc` failed with `e`: throws `e` unless the call may go again. */
  failed(pc: PoolConnection, e: unknown): void {
    this.excluded = this.pool.afterFailure(pc, this.request, e, this.attempts, this.info, this.excluded);
  }

  /** The attempt on `pc` succeeded. */
  succeeded(pc: PoolConnection): void {
    this.pool.succeeded(pc);
  }

  /** A call that is never retried (a request stream) ended on `pc`, with `error` or not: the pool's bookkeeping. */
  ended(pc: PoolConnection, error: unknown): void {
    if (error === undefined) {
      this.pool.succeeded(pc);
      return;
    }
    const last = this.info?.attempts[this.info.attempts.length - 1];
    if (last !== undefined && error instanceof RpcError) last.error = error;
    if (error instanceof RpcError && !neverRan(error)) this.pool.countCallError(pc, error);
    if (pc.retiring !== undefined) pc.closeIfIdle();
  }
}
