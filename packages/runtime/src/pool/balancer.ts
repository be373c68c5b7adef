import type { RpcError } from "../errors.js";
import type { Clock } from "../util/clock.js";
import type { LongTimeout } from "../util/long-timeout.js";
import { Ejection } from "./ejection.js";
import type { Endpoint } from "./endpoint.js";
import { createPicker, type KeyServer, type Pickable, type Picker, type RankedServer, type ReadySet } from "./pickers.js";
import { PoolAddress, type AddressConnection, type AddressHooks } from "./pool-address.js";
import type { AddressStats, PoolEvent } from "./pool-events.js";
import type { PoolSettings } from "./pool-settings.js";
import { resolvedSet, type ResolvedServer, type ResolvedSet } from "./resolved-set.js";
import type { RetireReason, SlotLike } from "./slot.js";
import { planSubsets, rankServers, type SubsetPlan } from "./subset.js";

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

/** A key's server outside the subset is closed after going this long without a call. */
export const KEY_SERVER_IDLE_MS = 60_000;

const NO_SERVERS: ResolvedSet = { servers: [], index: new Map(), uniform: true };

/**
 * The servers a pool uses and how it spreads calls over them: takes the
 * resolver's answers (servers added start connecting, servers gone drain),
 * chooses this client's subset, keeps the ready connections for the
 * picker, ejects servers that keep failing and lets them back in. No
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
  private plan: SubsetPlan = { size: 0, weights: undefined };
  /** This client's order of preference over {@link resolved} (subsetting only). */
  private ranking: Int32Array | undefined;
  private readyList: C[] = [];
  private dirty = true;
  private keyCheck: LongTimeout | undefined;
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

  /** Connections taking calls now, of the servers in rotation (the subset's, none ejected). */
  get connections(): readonly C[] {
    if (this.dirty) {
      const list: C[] = [];
      for (const a of this.addresses.values()) if (a.member && !a.ejected) a.ready(list);
      this.readyList = list;
      this.dirty = false;
    }
    return this.readyList;
  }

  get servers(): readonly RankedServer[] {
    return this.resolved.servers;
  }

  use(index: number): KeyServer<C> {
    const server = this.resolved.servers[index] as ResolvedServer;
    const known = this.addresses.get(server.key);
    if (known !== undefined) {
      if (!known.member) known.keyed = true;
      return known;
    }
    const a = this.add(server, false);
    a.keyed = true;
    this.armKeyCheck();
    return a;
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
    this.ranking = undefined;
    for (const a of [...this.addresses.values()]) {
      const i = set.index.get(a.key);
      if (i === undefined) {
        this.drop(a, "removed");
        continue;
      }
      const server = set.servers[i] as ResolvedServer;
      a.endpoint = server.endpoint;
      a.weight = server.weight;
    }
    const subset = this.settings.subset;
    this.plan = subset === undefined ? { size: set.servers.length, weights: undefined } : planSubsets(set, subset);
    this.refresh();
  }

  /** Servers the target resolved to. */
  get resolvedCount(): number {
    return this.resolved.servers.length;
  }

  /**
   * Chooses the subset again (after a resolution, an ejection, a
   * readmission): the best-ranked servers that are not ejected. Servers
   * that fall out drain; a key's server outside the subset stays while used.
   */
  private refresh(): void {
    const servers = this.resolved.servers;
    const wanted = new Set<string>();
    const subset = this.settings.subset;
    if (subset === undefined || this.plan.size >= servers.length) {
      for (const s of servers) wanted.add(s.key);
    } else {
      this.ranking ??= rankServers(subset.client, this.resolved);
      for (const i of this.ranking) {
        const key = (servers[i] as ResolvedServer).key;
        if (this.addresses.get(key)?.ejected === true) continue;
        wanted.add(key);
        if (wanted.size >= this.plan.size) break;
      }
    }
    for (const a of [...this.addresses.values()]) {
      if (wanted.has(a.key)) {
        a.member = true;
        continue;
      }
      const wasMember = a.member;
      a.member = false;
      // Ejected servers are remembered until readmitted; keys' servers stay while used.
      if (wasMember && !a.ejected && !a.keyed) this.drop(a, "subset");
    }
    const weights = this.plan.weights;
    for (const [i, s] of servers.entries()) {
      let a = this.addresses.get(s.key);
      if (a === undefined && wanted.has(s.key)) a = this.add(s, true);
      if (a !== undefined) a.pickWeight = weights !== undefined ? (weights[i] as number) : a.weight;
    }
    this.markChanged();
  }

  private add(server: ResolvedServer, member: boolean): PoolAddress<C> {
    const a = new PoolAddress<C>(server.endpoint, this.settings.slot, this.settings.connectionsPerAddress, this);
    a.member = member;
    const w = this.plan.weights?.[this.resolved.index.get(server.key) ?? -1];
    if (w !== undefined) a.pickWeight = w;
    this.addresses.set(a.key, a);
    a.start();
    return a;
  }

  /** Stops using `a`: its connections take no new calls and close when their calls are done. */
  private drop(a: PoolAddress<C>, reason: RetireReason): void {
    this.addresses.delete(a.key);
    a.remove(reason);
    if (a.hasOpenConnections()) this.retired.add(a);
  }

  private armKeyCheck(): void {
    if (this.keyCheck !== undefined) return;
    this.keyCheck = this.clock.setTimeout(() => this.checkKeyServers(), KEY_SERVER_IDLE_MS);
  }

  /** Keys' servers outside the subset with no call since the last check close. */
  private checkKeyServers(): void {
    this.keyCheck = undefined;
    if (this.host.isClosed) return;
    let kept = false;
    for (const a of [...this.addresses.values()]) {
      if (a.member || !a.keyed || a.ejected) continue;
      if (a.picks === a.picksAtCheck && a.pendingCalls() === 0) {
        this.drop(a, "subset");
        continue;
      }
      a.picksAtCheck = a.picks;
      kept = true;
    }
    if (kept) this.armKeyCheck();
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
    // At most maxPercent of the servers this client means to use: its subset, or every server.
    const forMs = this.ejection.failed(a, ejected, this.plan.size, () => this.readmit(a));
    if (forMs === undefined) return;
    this.host.emit({ type: "ejected", address: a.key, forMs });
    a.eject();
    this.refresh();
  }

  private readmit(a: PoolAddress<C>): void {
    if (this.host.isClosed || this.addresses.get(a.key) !== a) return;
    a.readmit();
    this.host.emit({ type: "readmitted", address: a.key });
    this.refresh();
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

  /** The pool went idle: connections close, keys' servers outside the subset are forgotten. */
  idle(): void {
    for (const a of [...this.addresses.values()]) {
      if (!a.member && !a.ejected) this.drop(a, "idle");
      else a.idle();
    }
    this.dirty = true;
  }

  /** The pool is used again: every server connects anew (unless ejected). */
  wake(): void {
    for (const a of this.addresses.values()) a.wake();
  }

  /** Closes every connection now with `error`. */
  close(error: RpcError): void {
    this.keyCheck?.cancel();
    this.keyCheck = undefined;
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

  /** The servers in use (the subset, keys' servers, ejected ones), for stats. */
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
