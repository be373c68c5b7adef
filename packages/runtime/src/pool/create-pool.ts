import type { ConnectionTransport, ConnectOptions } from "../client/connect-options.js";
import { connect as connectOne } from "../client/connect.js";
import { checkSignal } from "../util/validate.js";
import type { PoolOptions } from "./pool-options.js";
import { checkPoolOptions } from "./pool-settings.js";
import { Pool } from "./pool.js";
import type { PoolTransport } from "./pool-transport.js";
import { resolverOf, type Target } from "./target.js";

/**
 * Creates a pool of connections to every server `target` names, without
 * connecting yet: the first call (or `whenReady()`) starts it. Targets:
 * `"host:port"`, a list of them (array, or one string separated by
 * commas), `"dns:///name:port"` (A/AAAA records, re-resolved),
 * `"srv:///_service._tcp.name"` (SRV records: ports and weights),
 * `"unix:///path"`, or a {@link Resolver} of your own.
 *
 * ```ts
 * const pool = createPool("dns:///kv.default.svc.cluster.local:7000", { connectionsPerAddress: 2 });
 * const kv = createKvServiceClient(pool);
 * ```
 *
 * @throws RpcError `invalid_argument` for a bad target or option (naming it).
 */
export function createPool(target: Target, options: PoolOptions = {}): PoolTransport {
  const settings = checkPoolOptions(options);
  return new Pool(resolverOf(target), settings);
}

/** Options of {@link connect} with a target: a pool's options, and a signal that cancels connecting. */
export interface PoolConnectOptions extends PoolOptions {
  /** Cancels waiting for the first connection (the pool is closed then). */
  signal?: AbortSignal;
}

function isTarget(value: unknown): value is Target {
  return (
    typeof value === "string" ||
    Array.isArray(value) ||
    (typeof value === "object" && value !== null && typeof (value as { resolve?: unknown }).resolve === "function")
  );
}

/**
 * Opens one connection to a protosocket server: a {@link Transport} whose
 * calls are multiplexed by message id, thousands in flight at once. Every
 * client created on it must use the same envelope pair.
 *
 * @throws RpcError `invalid_argument` for bad options (naming the option),
 *   `unavailable` when the server cannot be reached, `deadline_exceeded`
 *   when `connectTimeoutMs` passes, `cancelled` when `signal` aborts.
 */
export function connect(options: ConnectOptions): Promise<ConnectionTransport>;
/**
 * Creates a pool for `target` (see {@link createPool}) and resolves once
 * its first connection is up.
 *
 * @throws RpcError `invalid_argument` for a bad target or option,
 *   `unavailable` when no server could be reached within
 *   `connectTimeoutMs` (default 10,000 ms), `cancelled` when `signal` aborts.
 */
export function connect(target: Target, options?: PoolConnectOptions): Promise<PoolTransport>;
export async function connect(target: ConnectOptions | Target, options?: PoolConnectOptions): Promise<ConnectionTransport | PoolTransport> {
  if (!isTarget(target)) return connectOne(target);
  const pool = createPool(target, options);
  try {
    await pool.whenReady({
      timeoutMs: options?.connectTimeoutMs ?? 10_000,
      ...(options?.signal !== undefined ? { signal: checkSignal("signal", options.signal) as AbortSignal } : {}),
    });
  } catch (e) {
    pool.close();
    throw e;
  }
  return pool;
}
