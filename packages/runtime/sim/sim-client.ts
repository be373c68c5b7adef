/**
 * A simulated client: the pool's Balancer (resolution results, subset,
 * pickers, ejection) over simulated slots, and a call loop that asks the
 * pool's retry decision (decideRetry, with a real RetryBudget on the
 * virtual clock) after every failed attempt, as Pool's call paths do.
 */
import type { RpcError } from "../src/errors.js";
import { Balancer, type BalancerHost } from "../src/pool/balancer.js";
import type { Endpoint } from "../src/pool/endpoint.js";
import type { PoolEvent } from "../src/pool/pool-events.js";
import type { PoolSettings } from "../src/pool/pool-settings.js";
import { newAttempts, RetryBudget, type Attempts } from "../src/pool/retry-budget.js";
import { countFailure, decideRetry } from "../src/pool/retry-policy.js";
import type { LongTimeout } from "../src/util/long-timeout.js";
import type { VirtualClock } from "./virtual-clock.js";
import { type SimConnection, SimSlot } from "./sim-connection.js";
import type { Attempt, Reply, SimServer } from "./sim-server.js";

/** Counters of a fleet's clients, summed. */
export class CallStats {
  calls = 0;
  attempts = 0;
  ok = 0;
  failedIdempotent = 0;
  failedOther = 0;
  retries = 0;
  neverRanRetries = 0;
  retriesDenied = 0;
  waits = 0;
  ejections = 0;
  readmissions = 0;
  /** Latencies of the calls that succeeded, in ms (calls started in the measured window): the first {@link ok}. */
  latencies = new Float64Array(1 << 16);

  /** Records a success. */
  succeeded(latencyMs: number): void {
    if (this.ok === this.latencies.length) {
      const more = new Float64Array(this.latencies.length * 2);
      more.set(this.latencies);
      this.latencies = more;
    }
    this.latencies[this.ok++] = latencyMs;
  }
}

/** One call of a simulated client, and its current attempt. */
class SimCall implements Attempt {
  readonly attempts: Attempts = newAttempts();
  excluded: Set<SimConnection> | undefined;
  waitTimer: LongTimeout | undefined;
  conn!: SimConnection;
  timer: LongTimeout | undefined;
  done = false;

  constructor(
    readonly client: SimClient,
    readonly idempotent: boolean,
    readonly key: string | undefined,
    readonly startedAt: number,
    readonly stats: CallStats,
  ) {}

  deliver(reply: Reply): void {
    this.client.replied(this, this.conn, reply);
  }
}

/** What clients share. */
export interface ClientEnv {
  readonly clock: VirtualClock;
  readonly random: () => number;
  /** The simulated servers, by key. */
  readonly servers: ReadonlyMap<string, SimServer>;
  readonly connectMs: number;
  /** Where calls are counted now (a scenario swaps it to measure a window). */
  stats: CallStats;
}

export class SimClient implements BalancerHost {
  readonly balancer: Balancer<SimConnection>;
  readonly budget: RetryBudget;
  readonly isClosed = false;
  private readonly waiters = new Set<SimCall>();

  constructor(
    readonly index: number,
    readonly settings: PoolSettings,
    private readonly env: ClientEnv,
  ) {
    this.budget = new RetryBudget(settings.retry, () => env.clock.now());
    this.balancer = new Balancer<SimConnection>({
      settings,
      host: this,
      clock: env.clock,
      random: env.random,
      createSlot: (a) => new SimSlot(a, env.servers.get(a.key) as SimServer, env.connectMs),
    });
  }

  /** A resolver's answer reached this client. */
  resolved(endpoints: readonly Endpoint[]): void {
    this.balancer.update(endpoints);
  }

  emit(event: PoolEvent): void {
    if (event.type === "ejected") this.env.stats.ejections++;
    else if (event.type === "readmitted") this.env.stats.readmissions++;
  }

  changed(): void {
    if (this.waiters.size === 0) return;
    for (const call of [...this.waiters]) {
      const pc = this.balancer.pick(call.key, call.excluded);
      if (pc === undefined) continue;
      this.waiters.delete(call);
      call.waitTimer?.cancel();
      this.attempt(call, pc);
    }
  }

  resolveSoon(): void {}

  /** Starts a call. */
  call(idempotent: boolean, key?: string): void {
    const stats = this.env.stats;
    stats.calls++;
    this.budget.deposit();
    this.send(new SimCall(this, idempotent, key, this.env.clock.now(), stats));
  }

  private send(call: SimCall): void {
    const pc = this.balancer.pick(call.key, call.excluded);
    if (pc !== undefined) {
      this.attempt(call, pc);
      return;
    }
    call.stats.waits++;
    this.waiters.add(call);
    call.waitTimer = this.env.clock.setTimeout(() => {
      this.waiters.delete(call);
      this.finish(call, false);
    }, this.settings.waitForReadyMs);
  }

  private attempt(call: SimCall, pc: SimConnection): void {
    call.stats.attempts++;
    pc.host.picks++;
    pc.pending++;
    call.conn = pc;
    call.timer = undefined;
    call.done = false;
    (pc.server as SimServer).receive(call);
  }

  /** The reply to `call`'s attempt on `pc`. */
  replied(call: SimCall, pc: SimConnection, reply: Reply): void {
    if (reply.ok) {
      pc.callDone();
      pc.host.callSucceeded();
      this.finish(call, true);
      return;
    }
    // A draining server's refusal retires the connection before the call fails (as the real client's does).
    if (reply.draining && !pc.closed) pc.slot.serverDraining(pc);
    pc.callDone();
    this.failed(call, pc, reply.error, reply.neverRan);
  }

  private failed(call: SimCall, pc: SimConnection, error: RpcError, neverRan: boolean): void {
    if (!neverRan) this.balancer.countCallError(pc, error);
    countFailure(call.attempts, error, neverRan);
    const verdict = decideRetry(this.settings.retry, this.budget, {
      idempotent: call.idempotent,
      code: error.code,
      neverRan,
      attempts: call.attempts,
      deadline: undefined,
      now: this.env.clock.now(),
    });
    if (verdict !== "retry") {
      if (verdict === "budget") call.stats.retriesDenied++;
      this.finish(call, false);
      return;
    }
    call.stats.retries++;
    if (neverRan) call.stats.neverRanRetries++;
    call.excluded ??= new Set();
    call.excluded.add(pc);
    this.send(call);
  }

  private finish(call: SimCall, ok: boolean): void {
    const stats = call.stats;
    if (ok) stats.succeeded(this.env.clock.now() - call.startedAt);
    else if (call.idempotent) stats.failedIdempotent++;
    else stats.failedOther++;
  }

  /** Open connections of the servers in its subset (or all, without one), and of keys' servers. */
  connections(): number {
    let n = 0;
    for (const a of this.balancer.inUse()) for (const s of a.slots) n += s.openConnections().length;
    return n;
  }

  /** The servers it uses for keyless calls now. */
  members(): string[] {
    const out: string[] = [];
    for (const a of this.balancer.inUse()) if (a.member && !a.ejected) out.push(a.key);
    return out;
  }
}
