import type { ClientConnection } from "../client/client-connection.js";
import { dial, type DialSettings } from "../client/dial.js";
import { Code, RpcError } from "../errors.js";
import type { Clock } from "../util/clock.js";
import type { LongTimeout } from "../util/long-timeout.js";
import { Backoff, type BackoffSettings } from "./backoff.js";
import type { Endpoint } from "./endpoint.js";
import type { Pickable } from "./pickers.js";

/** Why a pool stops giving a connection new calls. */
export type RetireReason = "max_age" | "server_draining" | "removed" | "ejected" | "idle" | "subset";

/** How often a retiring connection with calls still running checks whether they are done. */
const IDLE_CHECK_MS = 100;

/** Settings every slot of a pool shares. */
export interface SlotSettings {
  readonly dial: DialSettings;
  readonly backoff: BackoffSettings;
  /** Age after which a connection is replaced (Infinity: never). */
  readonly maxConnectionAgeMs: number;
  /** Fraction by which each connection's age limit is moved at random. */
  readonly maxConnectionAgeJitter: number;
  /** How long a retiring connection's calls may run on before it is closed (Infinity: as long as they take). */
  readonly maxConnectionAgeGraceMs: number;
}

/** A slot's server, as the slot and the pool's call paths see it. */
export interface SlotHost<C = PoolConnection> {
  /** "host:port" or "unix:/path". */
  readonly key: string;
  readonly endpoint: Endpoint;
  /** The server's share of this client's calls (its weight, or the subset's balancing weight). */
  readonly pickWeight: number;
  readonly settings: SlotSettings;
  /** Source of numbers in [0, 1) for jitter. */
  readonly random: () => number;
  /** Time and timers. */
  readonly clock: Clock;
  connectionUp(pc: C): void;
  connectionRetiring(pc: C, reason: RetireReason): void;
  connectionDown(pc: C, error: RpcError, planned: boolean): void;
  connectFailed(error: RpcError, retryInMs: number): void;
  /** Calls (attempts) sent to this server. */
  picks: number;
  /** A call on one of its connections succeeded. */
  callSucceeded(): void;
}

/**
 * What a server's record needs of one of its connection slots: the real
 * {@link Slot} dials sockets; a simulation's slots connect in virtual time.
 */
export interface SlotLike<C> {
  /** The connection taking calls, if any. */
  readonly current: C | undefined;
  /** Attempts that failed since the slot last had a connection. */
  readonly failures: number;
  /** True while an attempt to connect is under way. */
  readonly isConnecting: boolean;
  /** Its connections not yet closed: the current one and those retiring. */
  openConnections(): readonly C[];
  /** Starts (or resumes) connecting. */
  start(): void;
  /** Lets the backoff start over and connects now. */
  restart(): void;
  /** Stops (re)connecting and retires the connection, letting its calls finish. */
  stop(reason: RetireReason): void;
  /** Closes everything now: calls in flight fail with `error`. */
  close(error: RpcError): void;
}

/** A connection of a pool, as pickers and calls see it. */
export class PoolConnection implements Pickable {
  rrWeight = 0;
  /** True while it takes new calls. */
  pickable = true;
  /** Set once it takes no new calls; it closes when its calls are done. */
  retiring: RetireReason | undefined;
  private idleCheck: ReturnType<typeof setInterval> | undefined;
  private grace: LongTimeout | undefined;

  /**
   * @param conn the connection.
   * @param host its server.
   */
  constructor(
    readonly conn: ClientConnection,
    readonly host: SlotHost,
  ) {}

  get pending(): number {
    return this.conn.pendingCalls;
  }

  get weight(): number {
    return this.host.pickWeight;
  }

  /** Takes no new calls from now on; closes once its calls are done (or after `graceMs`). */
  retire(reason: RetireReason, graceMs: number): void {
    if (this.retiring !== undefined) return;
    this.retiring = reason;
    this.pickable = false;
    if (this.closeIfIdle()) return;
    this.idleCheck = setInterval(() => this.closeIfIdle(), IDLE_CHECK_MS);
    this.idleCheck.unref?.();
    this.grace = this.host.clock.setTimeout(
      () =>
        this.close(
          new RpcError(
            Code.Unavailable,
            `connection retired (${reason}); its calls did not finish within ${graceMs} ms (maxConnectionAgeGraceMs)`,
            [],
            {
              peer: this.conn.peer,
            },
          ),
        ),
      graceMs,
    );
  }

  /** A call on it finished: a retiring connection closes when it has none left. Returns true once closed. */
  closeIfIdle(): boolean {
    if (this.retiring === undefined || this.conn.isClosed) return this.conn.isClosed;
    if (this.conn.pendingCalls > 0) return false;
    this.close(new RpcError(Code.Unavailable, `connection retired (${this.retiring})`, [], { peer: this.conn.peer }));
    return true;
  }

  /** Closes now; calls still running fail with `error`. */
  close(error: RpcError): void {
    this.stopTimers();
    this.pickable = false;
    this.conn.close(error);
  }

  stopTimers(): void {
    if (this.idleCheck !== undefined) clearInterval(this.idleCheck);
    this.idleCheck = undefined;
    this.grace?.cancel();
    this.grace = undefined;
  }
}

/**
 * One of the N connection slots a pool keeps per server: connects (when
 * asked), replaces its connection when it is lost (at once after a
 * connection that worked, else after the backoff), ages it out (a
 * replacement first, then the old one drains), and stops when its server is
 * ejected, removed or the pool closes.
 */
export class Slot implements SlotLike<PoolConnection> {
  /** The connection taking calls, if any. */
  current: PoolConnection | undefined;
  /** Attempts that failed since the slot last had a connection. */
  failures = 0;
  private readonly backoff: Backoff;
  private connecting: AbortController | undefined;
  private retryTimer: LongTimeout | undefined;
  private ageTimer: LongTimeout | undefined;
  private readyAt = 0;
  /** Stopped: no (re)connecting until resumed. */
  private stopped = true;
  private closedForGood = false;
  /** Connections of this slot not yet closed (the current one and retiring ones). */
  private readonly open = new Set<PoolConnection>();

  constructor(private readonly host: SlotHost) {
    this.backoff = new Backoff(host.settings.backoff, host.random);
  }

  /** True while an attempt to connect is under way. */
  get isConnecting(): boolean {
    return this.connecting !== undefined;
  }

  /** Its connections not yet closed: the current one and those retiring. */
  openConnections(): readonly PoolConnection[] {
    return [...this.open];
  }

  /** Starts (or resumes) connecting. */
  start(): void {
    if (this.closedForGood) return;
    this.stopped = false;
    if (this.current === undefined && this.connecting === undefined && this.retryTimer === undefined) this.connect();
  }

  /** Lets the backoff start over and connects now (a readmitted server). */
  restart(): void {
    this.backoff.reset();
    this.failures = 0;
    this.start();
  }

  /** Stops (re)connecting and retires the connection, letting its calls finish (ejected or removed server). */
  stop(reason: RetireReason): void {
    this.stopped = true;
    this.cancelPending();
    const pc = this.current;
    if (pc !== undefined) this.retire(pc, reason);
  }

  /** Closes everything now: calls in flight fail with `error`. */
  close(error: RpcError): void {
    this.closedForGood = true;
    this.stopped = true;
    this.cancelPending();
    this.current = undefined;
    for (const pc of [...this.open]) pc.close(error);
  }

  private cancelPending(): void {
    this.connecting?.abort();
    this.connecting = undefined;
    this.retryTimer?.cancel();
    this.retryTimer = undefined;
    this.ageTimer?.cancel();
    this.ageTimer = undefined;
  }

  private connect(): void {
    if (this.stopped || this.connecting !== undefined) return;
    const controller = new AbortController();
    this.connecting = controller;
    const endpoint = this.host.endpoint;
    let adopted: PoolConnection | undefined;
    dial("path" in endpoint ? { path: endpoint.path } : { host: endpoint.host, port: endpoint.port }, this.host.settings.dial, {
      signal: controller.signal,
      servername: endpoint.servername,
      // Only calls sent on the adopted connection can be refused as draining.
      onServerDraining: () => {
        if (adopted !== undefined) this.serverDraining(adopted);
      },
    }).then(
      (conn) => {
        if (this.connecting !== controller) {
          conn.close();
          return;
        }
        this.connecting = undefined;
        adopted = new PoolConnection(conn, this.host);
        this.adopt(adopted);
      },
      (e: unknown) => {
        if (this.connecting !== controller) return;
        this.connecting = undefined;
        this.failures++;
        const error = RpcError.from(e, Code.Unavailable);
        // A replacement that failed: an aged connection keeps serving until one succeeds.
        const delay = this.backoff.next();
        this.host.connectFailed(error, delay);
        this.connectAfter(delay);
      },
    );
  }

  private adopt(pc: PoolConnection): void {
    const old = this.current;
    this.current = pc;
    this.open.add(pc);
    this.failures = 0;
    this.readyAt = this.host.clock.now();
    void pc.conn.closed.then((error) => this.closed(pc, error));
    if (old !== undefined) this.retire(old, "max_age");
    const { maxConnectionAgeMs, maxConnectionAgeJitter } = this.host.settings;
    if (Number.isFinite(maxConnectionAgeMs)) {
      const age = maxConnectionAgeMs * (1 + maxConnectionAgeJitter * (this.host.random() * 2 - 1));
      this.ageTimer = this.host.clock.setTimeout(() => this.aged(pc), Math.max(1, age));
    }
    this.host.connectionUp(pc);
  }

  /** The connection reached its age: open a replacement, then retire it. */
  private aged(pc: PoolConnection): void {
    this.ageTimer = undefined;
    if (this.current !== pc || this.stopped) return;
    // It keeps taking calls until adopt() retires it for the new one.
    this.connect();
  }

  /** The server refused a call as draining: take no new calls there, and connect anew (elsewhere, behind a proxy or cluster). */
  private serverDraining(pc: PoolConnection): void {
    this.retire(pc, "server_draining");
    if (!this.stopped && this.connecting === undefined) {
      this.retryTimer?.cancel();
      this.retryTimer = undefined;
      this.connect();
    }
  }

  private retire(pc: PoolConnection, reason: RetireReason): void {
    if (pc.retiring !== undefined) return;
    if (this.current === pc) {
      this.current = undefined;
      this.ageTimer?.cancel();
      this.ageTimer = undefined;
    }
    pc.retire(reason, this.host.settings.maxConnectionAgeGraceMs);
    this.host.connectionRetiring(pc, reason);
  }

  private closed(pc: PoolConnection, error: RpcError): void {
    pc.stopTimers();
    this.open.delete(pc);
    const planned = pc.retiring !== undefined || this.closedForGood;
    if (this.current === pc) {
      this.current = undefined;
      this.ageTimer?.cancel();
      this.ageTimer = undefined;
    }
    this.host.connectionDown(pc, error, planned);
    if (planned || this.stopped || this.current !== undefined || this.connecting !== undefined || this.retryTimer !== undefined) return;
    // Lost. After a connection that lived a while, reconnect at once; after a short-lived one, back off.
    if (this.host.clock.now() - this.readyAt >= this.host.settings.backoff.initialMs) {
      this.backoff.reset();
      this.connect();
    } else {
      this.failures++;
      this.connectAfter(this.backoff.next());
    }
  }

  /** Connects again after `delay` ms (a backoff step). */
  private connectAfter(delay: number): void {
    this.retryTimer = this.host.clock.setTimeout(() => {
      this.retryTimer = undefined;
      this.connect();
    }, delay);
  }
}
