/**
 * Calls waiting for a connection: each until a connection it may use comes
 * up (its key's server, none it was refused by), its deadline, the pool's
 * waitForReadyMs, its signal, or the pool's close.
 */
import { markNotRun } from "../client/not-run.js";
import { Code, RpcError } from "../errors.js";
import { startTimeout } from "../util/long-timeout.js";
import type { Attempts } from "./retry-budget.js";
import type { PoolConnection } from "./slot.js";

/** A call waiting for a connection. */
interface Waiter {
  readonly key: string | undefined;
  readonly excluded: ReadonlySet<PoolConnection> | undefined;
  resolve(pc: PoolConnection): void;
  fail(error: RpcError): void;
}

/** What the waiting calls need of their pool. */
export interface WaitingHost {
  /** The pool's target, for errors. */
  readonly target: string;
  /** A connection for a call now, or undefined. */
  pickNow(key: string | undefined, excluded: ReadonlySet<PoolConnection> | undefined): PoolConnection | undefined;
  /** Why no connection came: the last error seen, from any source, if any. */
  lastError(): string | undefined;
  /** Counts a wait, and a wait that ran out. */
  counted(what: "wait" | "timeout"): void;
}

/** The calls waiting for a connection in one pool. */
export class WaitingCalls {
  private readonly waiters = new Set<Waiter>();

  /** @param host the pool. */
  constructor(private readonly host: WaitingHost) {}

  /** Calls waiting now. */
  get size(): number {
    return this.waiters.size;
  }

  /**
   * Waits for a connection, up to `deadline` and (for a call) at most
   * `waitForReadyMs`; then fails `unavailable` naming the last error seen.
   * `signal` (the call's) and `stop` end the wait with `cancelled` — or,
   * when the call's deadline aborted it, as a wait that ran out. A call that
   * fails while waiting never ran if none of its `attempts` may have.
   */
  wait(
    key: string | undefined,
    excluded: ReadonlySet<PoolConnection> | undefined,
    deadline: number | undefined,
    waitForReadyMs: number,
    signal: AbortSignal | undefined,
    attempts: Attempts | undefined,
    what: "call" | "connect",
    stop?: AbortSignal,
  ): Promise<PoolConnection> {
    const host = this.host;
    const unrun = what === "call" && (attempts === undefined || attempts.made === attempts.neverRan);
    if (what === "call") host.counted("wait");
    const now = Date.now();
    const limit = Math.min(deadline ?? Number.POSITIVE_INFINITY, what === "call" ? now + waitForReadyMs : Number.POSITIVE_INFINITY);
    return new Promise<PoolConnection>((resolve, reject) => {
      const cleanup = () => {
        this.waiters.delete(waiter);
        timer.cancel();
        signal?.removeEventListener("abort", onAbort);
        stop?.removeEventListener("abort", onAbort);
      };
      const waiter: Waiter = {
        key,
        excluded,
        resolve: (pc) => {
          cleanup();
          resolve(pc);
        },
        fail: (error) => {
          cleanup();
          reject(unrun ? markNotRun(error) : error);
        },
      };
      const ranOut = () => {
        if (what === "call") host.counted("timeout");
        waiter.fail(this.noConnectionError(now, attempts?.last));
      };
      const onAbort = () => {
        const reason = signal?.aborted === true ? signal.reason : undefined;
        // The call's deadline passed while it waited: no connection came in time.
        if (reason instanceof RpcError && reason.code === Code.DeadlineExceeded) {
          ranOut();
          return;
        }
        waiter.fail(
          new RpcError(
            Code.Cancelled,
            what === "call" ? "call cancelled by the client while waiting for a connection" : "connect cancelled",
            [],
            { peer: host.target, cause: reason },
          ),
        );
      };
      const timer = startTimeout(ranOut, limit - now);
      if (signal?.aborted === true || stop?.aborted === true) {
        onAbort();
        return;
      }
      signal?.addEventListener("abort", onAbort, { once: true });
      stop?.addEventListener("abort", onAbort, { once: true });
      this.waiters.add(waiter);
    });
  }

  /** Connections or servers changed: serves the waiting calls a connection is ready for now. */
  changed(): void {
    if (this.waiters.size === 0) return;
    for (const w of [...this.waiters]) {
      const pc = this.host.pickNow(w.key, w.excluded);
      if (pc !== undefined) w.resolve(pc);
    }
  }

  /** Fails every waiting call, each with an error of its own (some are marked never-run, others not). */
  failAll(error: RpcError): void {
    for (const w of [...this.waiters]) w.fail(new RpcError(error.code, error.rawMessage, [], { peer: this.host.target }));
    this.waiters.clear();
  }

  private noConnectionError(since: number, lastError: RpcError | undefined): RpcError {
    const waited = Date.now() - since;
    const why = lastError?.rawMessage ?? this.host.lastError();
    return new RpcError(
      Code.Unavailable,
      `no connection ready after waiting ${waited} ms${why !== undefined ? ` (last error: ${why})` : ""}`,
      [],
      {
        peer: this.host.target,
        ...(lastError !== undefined ? { cause: lastError } : {}),
      },
    );
  }
}
