import type { RpcError } from "../errors.js";
import { endpointKey, endpointWeight, type Endpoint } from "./endpoint.js";
import type { AddressState, AddressStats } from "./pool-events.js";
import { hashString, type Hash64 } from "./rendezvous.js";
import { Slot, type PoolConnection, type RetireReason, type SlotHost, type SlotSettings } from "./slot.js";

/** What a server's record tells the pool. */
export interface AddressHooks {
  readonly random: () => number;
  connectionUp(address: PoolAddress, pc: PoolConnection): void;
  connectionRetiring(address: PoolAddress, pc: PoolConnection, reason: RetireReason): void;
  connectionDown(address: PoolAddress, pc: PoolConnection, error: RpcError, planned: boolean): void;
  connectFailed(address: PoolAddress, error: RpcError, retryInMs: number): void;
}

/**
 * One server of a pool: its N connection slots, counters, and ejection
 * state.
 */
export class PoolAddress implements SlotHost {
  readonly key: string;
  /** For rendezvous hashing. */
  readonly hash: Hash64;
  endpoint: Endpoint;
  weight: number;
  readonly slots: Slot[];
  /** Connection failures (failed attempts, lost connections) since a call last succeeded here. */
  consecutiveFailures = 0;
  /** Set while ejected. */
  ejectedUntil: number | undefined;
  ejectTimer: ReturnType<typeof setTimeout> | undefined;
  /** Ejections in a row (the next lasts longer); reset when a call succeeds. */
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
    private readonly hooks: AddressHooks,
  ) {
    this.endpoint = endpoint;
    this.key = endpointKey(endpoint);
    this.hash = hashString(this.key);
    this.weight = endpointWeight(endpoint);
    this.slots = Array.from({ length: connections }, () => new Slot(this));
  }

  get random(): () => number {
    return this.hooks.random;
  }

  get ejected(): boolean {
    return this.ejectedUntil !== undefined;
  }

  /** Connections taking calls now. */
  ready(into: PoolConnection[]): void {
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

  /** No longer resolved: connections drain and close. */
  remove(): void {
    if (this.ejectTimer !== undefined) clearTimeout(this.ejectTimer);
    for (const s of this.slots) s.stop("removed");
  }

  /** Closes every connection now. */
  close(error: RpcError): void {
    if (this.ejectTimer !== undefined) clearTimeout(this.ejectTimer);
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

  connectionUp(_slot: Slot, pc: PoolConnection): void {
    this.connectionsUp++;
    this.hooks.connectionUp(this, pc);
  }

  connectionRetiring(pc: PoolConnection, reason: RetireReason): void {
    this.hooks.connectionRetiring(this, pc, reason);
  }

  connectionDown(_slot: Slot, pc: PoolConnection, error: RpcError, planned: boolean): void {
    this.connectionsDown++;
    if (!planned) this.lastError = error;
    this.hooks.connectionDown(this, pc, error, planned);
  }

  connectFailed(_slot: Slot, error: RpcError, retryInMs: number): void {
    this.connectFailures++;
    this.lastError = error;
    this.hooks.connectFailed(this, error, retryInMs);
  }
}
