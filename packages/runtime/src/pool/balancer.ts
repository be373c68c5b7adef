import type { RpcError } from "../errors.js";
import type { Clock } from "../util/clock.js";
import { Ejection } from "./ejection.js";
import type { Endpoint } from "./endpoint.js";
import { createPicker, type KeyServer, type Pickable, type Picker, type RankedServer, type ReadySet } from "./pickers.js";
import { PoolAddress, type AddressConnection, type AddressHooks } from "./pool-address.js";
import type { AddressStats, PoolEvent } from "./pool-events.js";
import type { PoolSettings } from "./pool-settings.js";
import { resolvedSet, type ResolvedServer, type ResolvedSet } from "./resolved-set.js";
import type { RetireReason, SlotLike } from "./slot.js";

/** A connection as the balancer handles it. */
export interface BalancedConnection extends AddressConnection, Pickable {
  /** Its server. */
  readonly host: { readonly key: string };
}

/** What a balancer tells its pool. */
export interface BalancerHost {
  /** True once the pool is closed: failures no longer count. */
  readonly isClosed: boolean;
  emit(event: PoolEvent): void;
  /** Connections or servers changed: calls waiting for a connection may go now. */
  changed(): void;
  /** A connection failed: resolve the target again soon. */
  resolveSoon(): void;
}

/** What a balancer is made of. */
export interface BalancerParts<C extends BalancedConnection> {
  readonly settings: PoolSettings;
  readonly host: BalancerHost;
  /** A connection slot for a server (the pool's dial sockets; a simulation's connect in virtual time). */
  createSlot(address: PoolAddress<C>): SlotLike<C>;
  readonly clock: Clock;
  readonly random: () => number;
}

const NO_SERVERS: ResolvedSet = { servers: [], index: new Map() };

/**
 * The servers a pool uses and how it spreads calls over them: takes the
 * resolver's answers (servers added start connecting, servers gone drain),
 * keeps the ready connections for the picker, ejects servers that keep
 * failing and lets them back in. No
 * sockets and no timers of its own beyond its clock: the pool drives it
 * with real slots, a simulation with simulated ones.
 */
export class Balancer<C extends BalancedConnection> implements AddressHooks<C>, ReadySet<C> {
  readonly clock: Clock;
  readonly random: () => number;
  private readonly settings: PoolSettings;
  private readonly host: BalancerHost;
  private readonly picker: Picker<C>;
  private readonly ejection: Ejection;
  private readonly addresses = new Map<string, PoolAddress<C>>();
  /** Servers no longer used whose connections are still draining (closed with the pool). */
  private readonly retired = new Set<PoolAddress<C>>();
  private resolved: ResolvedSet = NO_SERVERS;
  private readyList: C[] = [];
  private dirty = true;
  readonly createSlot: (address: PoolAddress<C>) => SlotLike<C>;

  constructor(parts: BalancerParts<C>) {
    this.settings = parts.settings;
    this.host = parts.host;
    this.clock = parts.clock;
    this.random = parts.random;
    this.createSlot = parts.createSlot;
    this.picker = createPicker<C>(parts.settings.picker, parts.random);
    this.ejection = new Ejection(parts.settings.ejection, parts.clock);
  }

  // ---- what pickers see (ReadySet) ---------------------------------------------------

  /** Connections taking calls now, of the servers in rotation (none ejected). */
  get connections(): readonly C[] {
    if (this.dirty) {
      const list: C[] = [];
      for (const a of this.addresses.values()) if (!a.ejected) a.ready(list);
      this.readyList = list;
      this.dirty = false;
    }
    return this.readyList;
  }

  get servers(): readonly RankedServer[] {
    return this.resolved.servers;
  }

  use(index: number): KeyServer<C> {
    return this.addresses.get((this.resolved.servers[index] as ResolvedServer).key) as PoolAddress<C>;
  }

  /** A connection for a call now, or undefined when it must wait. */
  pick(key: string | undefined, excluded: ReadonlySet<C> | undefined): C | undefined {
    return this.picker.pick(this, { key, excluded });
  }

  // ---- resolution ----------------------------------------------------------------------

  /** Takes a new answer of the resolver (checked, not empty): new servers start, gone ones drain. */
  update(endpoints: readonly Endpoint[]): void {
    const set = resolvedSet(endpoints);
    this.resolved = set;
    for (const server of set.servers) {
      const known = this.addresses.get(server.key);
      if (known !== undefined) {
        known.endpoint = server.endpoint;
        known.weight = server.weight;
        known.pickWeight = server.weight;
        continue;
      }
      const a = new PoolAddress<C>(server.endpoint, this.settings.slot, this.settings.connectionsPerAddress, this);
      this.addresses.set(a.key, a);
      a.start();
    }
    for (const a of [...this.addresses.values()]) if (!set.index.has(a.key)) this.drop(a, "removed");
    this.markChanged();
  }

  /** Stops using `a`: its connections take no new calls and close when their calls are done. */
  private drop(a: PoolAddress<C>, reason: RetireReason): void {
    this.addresses.delete(a.key);
    a.remove(reason);
    if (a.hasOpenConnections()) this.retired.add(a);
  }

  // ---- ejection ------------------------------------------------------------------------

  /** Counts a connection failure of `a` (or a counted call error); ejects it when it keeps failing. */
  private failed(a: PoolAddress<C>): void {
    if (this.addresses.get(a.key) !== a) {
      a.consecutiveFailures++;
      return;
    }
    let ejected = 0;
    for (const x of this.addresses.values()) if (x.ejected) ejected++;
    const forMs = this.ejection.failed(a, ejected, this.addresses.size, () => this.readmit(a));
    if (forMs === undefined) return;
    this.host.emit({ type: "ejected", address: a.key, forMs });
    a.eject();
    this.markChanged();
  }

  private readmit(a: PoolAddress<C>): void {
    if (this.host.isClosed || this.addresses.get(a.key) !== a) return;
    a.readmit();
    this.host.emit({ type: "readmitted", address: a.key });
    this.markChanged();
  }

  /** An attempt on `pc` that may have run failed with `error`: a failure of its server when ejection counts that code. */
  countCallError(pc: C, error: RpcError): void {
    const codes = this.ejection.settings?.callErrorCodes;
    if (codes === undefined || codes.size === 0 || !codes.has(error.code)) return;
    const a = this.addresses.get(pc.host.key);
    if (a !== undefined && !this.host.isClosed) this.failed(a);
  }

  // ---- what servers report (AddressHooks) ------------------------------------------------

  connectionUp(a: PoolAddress<C>, _pc: C): void {
    this.host.emit({ type: "connection_up", address: a.key });
    this.markChanged();
  }

  connectionRetiring(a: PoolAddress<C>, _pc: C, reason: RetireReason): void {
    this.host.emit({ type: "connection_retiring", address: a.key, reason });
    this.markChanged();
  }

  connectionDown(a: PoolAddress<C>, _pc: C, error: RpcError, planned: boolean): void {
    this.host.emit({ type: "connection_down", address: a.key, error, planned });
    if (this.retired.has(a) && !a.hasOpenConnections()) this.retired.delete(a);
    if (!planned && !this.host.isClosed) {
      this.failed(a);
      this.host.resolveSoon();
    }
    this.markChanged();
  }

  connectFailed(a: PoolAddress<C>, error: RpcError, retryInMs: number): void {
    this.host.emit({ type: "connect_failed", address: a.key, error, retryInMs });
    this.failed(a);
    this.host.resolveSoon();
    this.markChanged();
  }

  private markChanged(): void {
    this.dirty = true;
    this.host.changed();
  }

  // ---- the pool's life ----------------------------------------------------------------

  /** The pool went idle: connections close. */
  idle(): void {
    for (const a of this.addresses.values()) a.idle();
    this.dirty = true;
  }

  /** The pool is used again: every server connects anew (unless ejected). */
  wake(): void {
    for (const a of this.addresses.values()) a.wake();
  }

  /** Closes every connection now with `error`. */
  close(error: RpcError): void {
    for (const a of this.addresses.values()) a.close(error);
    for (const a of this.retired) a.close(error);
    this.retired.clear();
    this.readyList = [];
  }

  /** Calls in flight on every connection, draining ones included. */
  pendingCalls(): number {
    let n = 0;
    for (const a of this.addresses.values()) n += a.pendingCalls();
    for (const a of this.retired) n += a.pendingCalls();
    return n;
  }

  /** The servers in use, for stats. */
  stats(): AddressStats[] {
    return [...this.addresses.values()].map((a) => a.stats());
  }

  /** Servers in use now. */
  get size(): number {
    return this.addresses.size;
  }

  /** The last connection error of any server in use, as "address: message". */
  lastError(): string | undefined {
    let why: string | undefined;
    for (const a of this.addresses.values()) if (a.lastError !== undefined) why = `${a.key}: ${a.lastError.rawMessage}`;
    return why;
  }

  /** The records in use, for a simulation's measurements. */
  inUse(): IterableIterator<PoolAddress<C>> {
    return this.addresses.values();
  }
}
