/**
 * Simulated connections and the slots that open them: what the pool's
 * Slot does with sockets (connect, back off after failures, reconnect at
 * once after a connection that lived, retire and drain, stop), done in
 * virtual time against simulated servers. Everything above a slot is the
 * pool's own code: PoolAddress, the Balancer, the pickers, ejection.
 */
import { Code, RpcError } from "../src/errors.js";
import { Backoff } from "../src/pool/backoff.js";
import type { PoolAddress } from "../src/pool/pool-address.js";
import type { RetireReason, SlotLike } from "../src/pool/slot.js";
import type { LongTimeout } from "../src/util/long-timeout.js";

/** What a slot needs of a simulated server. */
export interface ConnectTarget {
  readonly key: string;
  /** True when a connection attempt now succeeds. */
  accepts(): boolean;
  /** Open connections to it (it closes them when it goes down). */
  readonly connections: Set<SimConnection>;
}

/** A simulated connection: a Pickable with calls in flight. */
export class SimConnection {
  pending = 0;
  rrWeight = 0;
  pickable = true;
  retiring: RetireReason | undefined;
  closed = false;

  constructor(
    readonly host: PoolAddress<SimConnection>,
    readonly server: ConnectTarget,
    readonly slot: SimSlot,
  ) {}

  get weight(): number {
    return this.host.pickWeight;
  }

  /** A call on it finished: a retiring connection closes once it has none. */
  callDone(): void {
    this.pending--;
    if (this.retiring !== undefined && this.pending === 0 && !this.closed) this.slot.closeConnection(this, true);
  }
}

const LOST = new RpcError(Code.Unavailable, "connection lost (simulated)");
const REFUSED = new RpcError(Code.Unavailable, "connection refused (simulated)");

/** One connection slot of a simulated client's server record. */
export class SimSlot implements SlotLike<SimConnection> {
  current: SimConnection | undefined;
  failures = 0;
  private readonly backoff: Backoff;
  private connecting: LongTimeout | undefined;
  private retryTimer: LongTimeout | undefined;
  private readyAt = 0;
  private stopped = true;
  private closedForGood = false;
  private readonly open = new Set<SimConnection>();

  /**
   * @param host the server's record (the pool's PoolAddress).
   * @param server the simulated server it connects to.
   * @param connectMs how long a connection attempt takes.
   */
  constructor(
    private readonly host: PoolAddress<SimConnection>,
    private readonly server: ConnectTarget,
    private readonly connectMs: number,
  ) {
    this.backoff = new Backoff(host.settings.backoff, host.random);
  }

  get isConnecting(): boolean {
    return this.connecting !== undefined;
  }

  openConnections(): readonly SimConnection[] {
    return [...this.open];
  }

  start(): void {
    if (this.closedForGood) return;
    this.stopped = false;
    if (this.current === undefined && this.connecting === undefined && this.retryTimer === undefined) this.connect();
  }

  restart(): void {
    this.backoff.reset();
    this.failures = 0;
    this.start();
  }

  stop(reason: RetireReason): void {
    this.stopped = true;
    this.cancelPending();
    const pc = this.current;
    if (pc !== undefined) this.retire(pc, reason);
  }

  close(_error: RpcError): void {
    this.closedForGood = true;
    this.stopped = true;
    this.cancelPending();
    this.current = undefined;
    for (const pc of [...this.open]) this.closeConnection(pc, true);
  }

  private cancelPending(): void {
    this.connecting?.cancel();
    this.connecting = undefined;
    this.retryTimer?.cancel();
    this.retryTimer = undefined;
  }

  private connect(): void {
    if (this.stopped || this.connecting !== undefined) return;
    this.connecting = this.host.clock.setTimeout(() => {
      this.connecting = undefined;
      if (this.server.accepts()) {
        this.adopt(new SimConnection(this.host, this.server, this));
        return;
      }
      this.failures++;
      const delay = this.backoff.next();
      this.host.connectFailed(REFUSED, delay);
      this.connectAfter(delay);
    }, this.connectMs);
  }

  private adopt(pc: SimConnection): void {
    this.current = pc;
    this.open.add(pc);
    this.server.connections.add(pc);
    this.failures = 0;
    this.readyAt = this.host.clock.now();
    this.host.connectionUp(pc);
  }

  /** The server refused a call as draining, or sent its closing notice: no new calls here; connect anew. */
  serverDraining(pc: SimConnection): void {
    this.retire(pc, "server_draining");
    if (!this.stopped && this.connecting === undefined) {
      this.retryTimer?.cancel();
      this.retryTimer = undefined;
      this.connect();
    }
  }

  private retire(pc: SimConnection, reason: RetireReason): void {
    if (pc.retiring !== undefined) return;
    if (this.current === pc) this.current = undefined;
    pc.retiring = reason;
    pc.pickable = false;
    this.host.connectionRetiring(pc, reason);
    if (pc.pending === 0 && !pc.closed) this.closeConnection(pc, true);
  }

  /** Closes `pc` (planned: retired, or the pool closed it). */
  closeConnection(pc: SimConnection, planned: boolean): void {
    if (pc.closed) return;
    pc.closed = true;
    pc.pickable = false;
    this.server.connections.delete(pc);
    this.lost(pc, planned || pc.retiring !== undefined || this.closedForGood);
  }

  /** The server went away: the connection is gone (its calls were failed by the server). */
  serverClosed(pc: SimConnection): void {
    if (pc.closed) return;
    pc.closed = true;
    pc.pickable = false;
    this.lost(pc, pc.retiring !== undefined || this.closedForGood);
  }

  private lost(pc: SimConnection, planned: boolean): void {
    this.open.delete(pc);
    if (this.current === pc) this.current = undefined;
    this.host.connectionDown(pc, LOST, planned);
    if (planned || this.stopped || this.current !== undefined || this.connecting !== undefined || this.retryTimer !== undefined) return;
    if (this.host.clock.now() - this.readyAt >= this.host.settings.backoff.initialMs) {
      this.backoff.reset();
      this.connect();
    } else {
      this.failures++;
      this.connectAfter(this.backoff.next());
    }
  }

  private connectAfter(delay: number): void {
    this.retryTimer = this.host.clock.setTimeout(() => {
      this.retryTimer = undefined;
      this.connect();
    }, delay);
  }
}
