import type { RpcError } from "../errors.js";
import type { Clock } from "../util/clock.js";
import type { LongTimeout } from "../util/long-timeout.js";
import { endpointKey, endpointWeight, type Endpoint } from "./endpoint.js";
import type { Ejectable } from "./ejection.js";
import type { AddressState, AddressStats } from "./pool-events.js";
import { hashString, type Hash64 } from "./rendezvous.js";
import type { PoolConnection, RetireReason, SlotHost, SlotLike, SlotSettings } from "./slot.js";

/** What a server's record reads of a connection. */
export interface AddressConnection {
  /** True while it takes new calls. */
  readonly pickable: boolean;
  /** Calls in flight on it. */
  readonly pending: number;
}

/** What a server's record tells its balancer, and how it gets its slots. */
export interface AddressHooks<C extends AddressConnection = PoolConnection> {
  readonly random: () => number;
  readonly clock: Clock;
  /** A connection slot for `address` (real sockets, or simulated ones). */
  createSlot(address: PoolAddress<C>): SlotLike<C>;
  connectionUp(address: PoolAddress<C>, pc: C): void;
  connectionRetiring(address: PoolAddress<C>, pc: C, reason: RetireReason): void;
  connectionDown(address: PoolAddress<C>, pc: C, error: RpcError, planned: boolean): void;
  connectFailed(address: PoolAddress<C>, error: RpcError, retryInMs: number): void;
}

/**
 * One server of a pool: its N connection slots, counters, and ejection
 * state.
 */
export class PoolAddress<C extends AddressConnection = PoolConnection> implements SlotHost<C>, Ejectable {
  readonly key: string;
  /** For rendezvous hashing. */
  readonly hash: Hash64;
  endpoint: Endpoint;
  /** Its weight as resolved (SRV). */
  weight: number;
  /** Its share of this client's calls: {@link weight}, or the subset's balancing weight. */
  pickWeight: number;
  readonly slots: SlotLike<C>[];
  /** In this client's subset (every server is, without subsetting); else only a key's server, connected on demand. */
  member = true;
  /** Connected for a key's calls while outside the subset (closed after a minute unused). */
  keyed = false;
  /** {@link picks} when the balancer last checked whether a server outside the subset is still used. */
  picksAtCheck = 0;
  consecutiveFailures = 0;
  ejectedUntil: number | undefined;
  ejectTimer: LongTimeout | undefined;
  ejectionsInARow = 0;
  picks = 0;
  connectionsUp = 0;
  connectionsDown = 0;
  connectFailures = 0;
  ejections = 0;
  lastError: RpcError | undefined;
  private started = false;

  constructor(
    endpoint: Endpoint,
    readonly settings: SlotSettings,
    connections: number,
    private readonly hooks: AddressHooks<C>,
  ) {
    this.endpoint = endpoint;
    this.key = endpointKey(endpoint);
    this.hash = hashString(this.key);
    this.weight = endpointWeight(endpoint);
    this.pickWeight = this.weight;
    this.slots = Array.from({ length: connections }, () => hooks.createSlot(this));
  }

  get random(): () => number {
    return this.hooks.random;
  }

  get clock(): Clock {
    return this.hooks.clock;
  }

  get ejected(): boolean {
    return this.ejectedUntil !== undefined;
  }

  /** Connections taking calls now. */
  ready(into: C[]): void {
    for (const s of this.slots) {
      const pc = s.current;
      if (pc?.pickable) into.push(pc);
    }
  }

  get state(): AddressState {
    if (this.ejected) return "ejected";
    let connecting = false;
    let failing = false;
    for (const s of this.slots) {
      if (s.current?.pickable === true) return "ready";
      if (s.failures > 0) failing = true;
      else if (s.isConnecting) connecting = true;
    }
    if (connecting) return "connecting";
    if (failing) return "transient_failure";
    return this.started ? "connecting" : "idle";
  }

  /** Starts every slot connecting. */
  start(): void {
    this.started = true;
    if (this.ejected) return;
    for (const s of this.slots) s.start();
  }

  /** Out of rotation: connections drain, no reconnecting until {@link readmit}. */
  eject(): void {
    for (const s of this.slots) s.stop("ejected");
  }

  /** Back in rotation: connect again, from the first backoff delay. */
  readmit(): void {
    this.ejectedUntil = undefined;
    this.ejectTimer = undefined;
    this.consecutiveFailures = 0;
    if (this.started) for (const s of this.slots) s.restart();
  }

  /** The pool went idle: its connections (which have no calls) close, and nothing reconnects until {@link wake}. */
  idle(): void {
    this.started = false;
    for (const s of this.slots) s.stop("idle");
  }

  /** The pool is used again after idling: connect anew, from the first backoff delay (unless ejected). */
  wake(): void {
    this.started = true;
    if (this.ejected) return;
    for (const s of this.slots) s.restart();
  }

  /** Calls in flight on its connections. */
  pendingCalls(): number {
    let n = 0;
    for (const s of this.slots) for (const pc of s.openConnections()) n += pc.pending;
    return n;
  }

  /** No longer used (not resolved, or out of the subset): connections drain and close. */
  remove(reason: RetireReason = "removed"): void {
    this.ejectTimer?.cancel();
    for (const s of this.slots) s.stop(reason);
  }

  /** Closes every connection now. */
  close(error: RpcError): void {
    this.ejectTimer?.cancel();
    for (const s of this.slots) s.close(error);
  }

  callSucceeded(): void {
    this.consecutiveFailures = 0;
    this.ejectionsInARow = 0;
  }

  stats(): AddressStats {
    let connections = 0;
    for (const s of this.slots) {
      if (s.current?.pickable === true) connections++;
    }
    return {
      address: this.key,
      state: this.state,
      weight: this.weight,
      connections,
      pendingCalls: this.pendingCalls(),
      connectionsUp: this.connectionsUp,
      connectionsDown: this.connectionsDown,
      connectFailures: this.connectFailures,
      picks: this.picks,
      ejections: this.ejections,
      lastError: this.lastError,
    };
  }

  /** True while any of its connections is not yet closed. */
  hasOpenConnections(): boolean {
    return this.slots.some((s) => s.openConnections().length > 0);
  }

  connectionUp(pc: C): void {
    this.connectionsUp++;
    this.hooks.connectionUp(this, pc);
  }

  connectionRetiring(pc: C, reason: RetireReason): void {
    this.hooks.connectionRetiring(this, pc, reason);
  }

  connectionDown(pc: C, error: RpcError, planned: boolean): void {
    this.connectionsDown++;
    if (!planned) this.lastError = error;
    this.hooks.connectionDown(this, pc, error, planned);
  }

  connectFailed(error: RpcError, retryInMs: number): void {
    this.connectFailures++;
    this.lastError = error;
    this.hooks.connectFailed(this, error, retryInMs);
  }
}
