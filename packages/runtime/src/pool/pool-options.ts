import type { ConnectionSettingsOptions } from "../client/connect-options.js";
import type { Code } from "../errors.js";
import type { Interceptor } from "../call/interceptor.js";
import type { BackoffOptions } from "./backoff.js";
import type { PickerName } from "./pickers.js";
import type { PoolEvent } from "./pool-events.js";
import type { RetryOptions } from "./retry-budget.js";

/**
 * When a server's connections keep failing (failed attempts to connect,
 * connections lost; a successful call resets the count), it is taken out of
 * rotation for a while and then let back in. Ejection never takes out more
 * than `maxPercent` of the servers.
 */
export interface EjectionOptions {
  /** Failures in a row that eject a server. Default 5. */
  consecutiveFailures?: number;
  /**
   * Call errors that count as failures too: attempts that failed with one
   * of these codes after they may have run (a unary call, a stream before
   * its first message, a request stream). Default none: a server answering
   * errors is up, and its errors are the application's. With
   * `[Code.Unavailable, Code.Internal]` a replica that fails every call (a
   * lost dependency, a bad deploy) is ejected after `consecutiveFailures`
   * of them in a row, instead of drawing ever more calls, which is what
   * least-outstanding does for a server that fails fast.
   */
  callErrorCodes?: Code[];
  /** The first ejection lasts this long; the n-th in a row n times as long. Default 30,000 ms. */
  baseMs?: number;
  /** The longest ejection. Default 300,000 ms. */
  maxMs?: number;
  /** The largest share of servers ejected at once, in %. Default 50. */
  maxPercent?: number;
}

/**
 * Subsetting: for fleets where every client connecting to every server
 * costs too much (1,000 clients × 1,000 servers is a million connections),
 * each client connects to `size` of the resolved servers. Subsets are
 * chosen by rendezvous hashing of the client's identity with each server,
 * so a server joining or leaving moves only about 1/N of the connections.
 * Give every client its index and the number of clients, and the load is
 * even across the servers; with only an id (or none) the subsets are
 * random and so is each server's share (about ±75 % at 20 clients per
 * server; docs/deploy.md has the numbers).
 */
export interface SubsetOptions {
  /** Servers each client connects to. Default 20. */
  size?: number;
  /**
   * This client's index, 0 to `clientCount` − 1, unique among the clients
   * of these servers (a StatefulSet ordinal, a task index). With
   * `clientCount`, every client computes every client's subset, and the
   * weights that make the servers' load even.
   */
  clientIndex?: number;
  /**
   * How many clients (each with its own `clientIndex`). When few clients
   * must cover many servers, subsets grow so that every server is in some.
   */
  clientCount?: number;
  /**
   * Without an index: a string unique to this client (a pod name, a host
   * name). Default: a random one per pool.
   */
  clientId?: string;
  /** Subsetting is off (every server is used) while the target resolves to this many servers or fewer. Default 2 × `size`. */
  minServers?: number;
}

/** Options of a pool ({@link createPool}, or {@link connect} with a target). */
export interface PoolOptions extends ConnectionSettingsOptions {
  /** Connections per server, opened when the pool is first used. Default 1. */
  connectionsPerAddress?: number;
  /**
   * How each call picks a connection:
   * - `least-outstanding` (default): of two connections at random, the one
   *   with fewer calls in flight (power of two choices); adapts to slow servers;
   * - `round-robin`: each connection in turn (weighted); an even spread of
   *   calls whatever their cost;
   * - `key-hash`: calls with the same `key` call option go to the same
   *   server (rendezvous hashing); calls without a key as least-outstanding.
   */
  picker?: PickerName;
  /** Delays between reconnection attempts; gRPC's numbers by default. */
  backoff?: BackoffOptions;
  /**
   * Replace each connection after this long (± `maxConnectionAgeJitter`):
   * a new one is opened first, then the old one takes no new calls and
   * closes when its calls are done. Behind a proxy that balances
   * connections (HAProxy, Kubernetes Services, cloud L4 balancers), this is
   * what moves load to servers added since. Default Infinity (never).
   */
  maxConnectionAgeMs?: number;
  /** Each connection's age limit is moved by up to this fraction at random. Default 0.1. */
  maxConnectionAgeJitter?: number;
  /** How long calls on a retired connection may run before it is closed (they then fail `unavailable`). Default Infinity. */
  maxConnectionAgeGraceMs?: number;
  /**
   * A call made while no connection is ready waits for one up to its
   * deadline, and at most this long, then fails `unavailable`. Default
   * 20,000 ms; Infinity waits as long as the deadline allows.
   */
  waitForReadyMs?: number;
  /** Retries on another connection. */
  retry?: RetryOptions;
  /** Taking failing servers out of rotation; `false` turns it off. */
  ejection?: EjectionOptions | false;
  /**
   * Connect to a subset of the servers (off by default). Calls without a
   * key stay in the subset; a `key-hash` call goes to its key's server
   * wherever it is (connected when needed).
   */
  subset?: SubsetOptions | false;
  /**
   * After this long with no call started and none running (checked every
   * `idleTimeoutMs`, so after one to two times this), the pool goes idle:
   * it closes its connections and stops resolving. The next call
   * starts it again (it resolves, connects, and waits for a connection as a
   * first call does). For clients that call rarely and should not hold a
   * connection to every server meanwhile; gRPC channels idle after 30
   * minutes. Default Infinity (never idle).
   */
  idleTimeoutMs?: number;
  /** How often `dns:///`, `srv:///` and custom resolvers are asked again. Default 30,000 ms. */
  resolveIntervalMs?: number;
  /** After a connection fails the target is resolved again, but not more often than this. Default 5,000 ms. */
  minResolveIntervalMs?: number;
  /** Called with every {@link PoolEvent} (as subscribe() listeners are). */
  onEvent?: (event: PoolEvent) => void;
  /** Interceptors around every call of the pool (outside its retries), outermost first. */
  interceptors?: Interceptor[];
}
