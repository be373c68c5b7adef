import type { Transport } from "../call/transport.js";
import type { PoolEvent, PoolStats } from "./pool-events.js";

/**
 * A pool: calls spread over connections to every server a target resolves
 * to, with reconnection, ejection, connection ageing, waiting for a ready
 * connection and retries. A {@link Transport} like one connection, plus its
 * counters and events.
 */
export interface PoolTransport extends Transport {
  /** Counters, per server and in total, as of now. */
  readonly stats: PoolStats;
  /** Calls `listener` with every event from now on; returns the function that stops it. */
  subscribe(listener: (event: PoolEvent) => void): () => void;
  /**
   * Starts the pool if no call has, and resolves once a connection is up;
   * rejects with `unavailable` (naming the last error) after `timeoutMs`
   * (default 10,000 ms), `cancelled` if `signal` aborts.
   */
  whenReady(options?: { timeoutMs?: number; signal?: AbortSignal }): Promise<void>;
}
