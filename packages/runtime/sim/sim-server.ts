/**
 * A simulated server: `workers` calls at a time, the rest queued in order;
 * exponential service times (times `slowdown`); it can crash (connections
 * cut, calls in flight fail as "may have run"), drain as a real server's
 * close({ graceMs }) does (new calls refused as never run, the calls in
 * flight finish, then each connection ends with a notice that no
 * unanswered call ran), come back, or fail every call fast.
 */
import { Code, RpcError } from "../src/errors.js";
import type { TcpEndpoint } from "../src/pool/endpoint.js";
import type { LongTimeout } from "../src/util/long-timeout.js";
import type { ConnectTarget, SimConnection } from "./sim-connection.js";

/** How servers serve. */
export interface ServerModel {
  /** Calls served at once. */
  readonly workers: number;
  /** Mean service time (exponential). */
  readonly serviceMs: number;
  /** Round trip added to every reply. */
  readonly rttMs: number;
}

/** A reply to one attempt. */
export type Reply =
  | { readonly ok: true }
  | { readonly ok: false; readonly error: RpcError; readonly neverRan: boolean; readonly draining: boolean };

/** One attempt of a call, on one connection (a call makes one at a time, so the call object is its attempt). */
export interface Attempt {
  /** The connection it was sent on. */
  conn: SimConnection;
  /** Where the reply goes. */
  deliver(reply: Reply): void;
  timer: LongTimeout | undefined;
  done: boolean;
}

const OK: Reply = { ok: true };
const REFUSED: Reply = {
  ok: false,
  error: new RpcError(Code.Unavailable, "server is draining (simulated)"),
  neverRan: true,
  draining: true,
};
const NOT_RUN: Reply = {
  ok: false,
  error: new RpcError(Code.Unavailable, "connection closed by a draining server; the call did not run (simulated)"),
  neverRan: true,
  draining: true,
};
const LOST: Reply = {
  ok: false,
  error: new RpcError(Code.Unavailable, "connection lost (simulated crash)"),
  neverRan: false,
  draining: false,
};
const CLOSED: Reply = {
  ok: false,
  error: new RpcError(Code.Unavailable, "connection closed before the call was written (simulated)"),
  neverRan: true,
  draining: false,
};
const FAILED: Reply = {
  ok: false,
  error: new RpcError(Code.Unavailable, "dependency down (simulated)"),
  neverRan: false,
  draining: false,
};

/** What a server needs of its fleet. */
export interface ServerEnv {
  readonly clock: { now(): number; setTimeout(fn: () => void, ms: number): LongTimeout };
  readonly random: () => number;
  readonly model: ServerModel;
}

export class SimServer implements ConnectTarget {
  state: "up" | "draining" | "down" = "up";
  /** Multiplies service times. */
  slowdown = 1;
  /** Fails every call after 1 ms with `unavailable` (may have run): a lost dependency. */
  failing = false;
  /** Attempts it ran (its load). */
  served = 0;
  /** Attempts it refused while draining. */
  refused = 0;
  readonly connections = new Set<SimConnection>();
  private busy = 0;
  private queue: Attempt[] = [];
  private head = 0;
  /** Attempts running, queued, or with a reply on its way. */
  private readonly open = new Set<Attempt>();
  private downMs = 0;

  constructor(
    readonly key: string,
    readonly endpoint: TcpEndpoint,
    private readonly env: ServerEnv,
  ) {}

  accepts(): boolean {
    return this.state === "up";
  }

  /** Calls running or queued. */
  get inFlight(): number {
    return this.busy + this.queue.length - this.head;
  }

  receive(a: Attempt): void {
    this.open.add(a);
    if (this.state === "draining") {
      this.refused++;
      this.replyAfter(a, REFUSED, this.env.model.rttMs);
      return;
    }
    if (this.state === "down" || a.conn.closed) {
      this.replyAfter(a, CLOSED, 0);
      return;
    }
    this.served++;
    if (this.failing) {
      this.replyAfter(a, FAILED, 1 + this.env.model.rttMs);
      return;
    }
    if (this.busy < this.env.model.workers) this.begin(a);
    else this.queue.push(a);
  }

  private begin(a: Attempt): void {
    this.busy++;
    const service = -Math.log(1 - this.env.random()) * this.env.model.serviceMs * this.slowdown;
    a.timer = this.env.clock.setTimeout(() => this.finish(a), service + this.env.model.rttMs);
  }

  private finish(a: Attempt): void {
    this.busy--;
    this.settle(a, OK);
    if (this.head < this.queue.length) {
      const next = this.queue[this.head] as Attempt;
      this.queue[this.head++] = undefined as unknown as Attempt;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      this.begin(next);
    }
    if (this.state === "draining" && this.inFlight === 0) this.shutDown();
  }

  private replyAfter(a: Attempt, reply: Reply, ms: number): void {
    a.timer = this.env.clock.setTimeout(() => this.settle(a, reply), ms);
  }

  private settle(a: Attempt, reply: Reply): void {
    if (a.done) return;
    a.done = true;
    a.timer = undefined;
    this.open.delete(a);
    a.deliver(reply);
  }

  /**
   * Drains (a rolling restart): refuses new calls, lets the running ones
   * finish, then ends every connection with its notice and is down for
   * `downMs` before it accepts connections again.
   */
  drain(downMs: number): void {
    if (this.state !== "up") return;
    this.state = "draining";
    this.downMs = downMs;
    if (this.inFlight === 0) this.shutDown();
  }

  private shutDown(): void {
    this.state = "down";
    // The notice: every unanswered call on the connection did not run.
    for (const a of [...this.open]) {
      a.timer?.cancel();
      this.settle(a, NOT_RUN);
    }
    for (const c of [...this.connections]) {
      this.connections.delete(c);
      c.slot.serverDraining(c);
      c.slot.closeConnection(c, true);
    }
    this.env.clock.setTimeout(() => {
      this.state = "up";
    }, this.downMs);
  }

  /** Crashes, first step: down, every connection cut (the clients see them go). */
  cut(): void {
    this.state = "down";
    for (const c of [...this.connections]) {
      this.connections.delete(c);
      c.slot.serverClosed(c);
    }
  }

  /** Crashes, second step: every call it had fails as one that may have run. */
  failCalls(): void {
    for (const a of [...this.open]) {
      a.timer?.cancel();
      this.settle(a, LOST);
    }
    this.busy = 0;
    this.queue = [];
    this.head = 0;
  }

  /** Comes back after a crash. */
  recover(): void {
    this.state = "up";
  }
}
