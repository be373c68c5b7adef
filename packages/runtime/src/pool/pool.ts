import { interceptCalls } from "../call/interceptor.js";
import type { AnyRequest, StreamRequest, StreamResponse, UnaryRequest, UnaryResponse } from "../call/request.js";
import type { CallTarget } from "../call/transport.js";
import { neverRan } from "../client/never-ran.js";
import { markNotRun } from "../client/not-run.js";
import { Code, RpcError } from "../errors.js";
import { realClock, type Clock } from "../util/clock.js";
import { startTimeout, type LongTimeout } from "../util/long-timeout.js";
import { checkNumber, checkObject, checkSignal } from "../util/validate.js";
import { Balancer, type BalancerHost } from "./balancer.js";
import { endpointKey, type Endpoint } from "./endpoint.js";
import { poolCallInfo, type PoolCallInfo, type PoolEvent, type PoolStats } from "./pool-events.js";
import type { PoolSettings } from "./pool-settings.js";
import type { PoolTransport } from "./pool-transport.js";
import { PoolStream, requestStream } from "./pool-stream.js";
import { Resolution, type ResolutionHost } from "./resolution.js";
import type { Resolver } from "./resolver.js";
import { RetryBudget, type Attempts } from "./retry-budget.js";
import { countFailure, decideRetry, isIdempotent } from "./retry-policy.js";
import { RetryingCall, type AttemptHost } from "./retrying-call.js";
import { Slot, type PoolConnection } from "./slot.js";
import { WaitingCalls, type WaitingHost } from "./waiting-calls.js";

/** The pool of {@link createPool}. */
export class Pool implements PoolTransport, BalancerHost, AttemptHost, ResolutionHost, WaitingHost {
  readonly target: string;
  readonly closed: Promise<RpcError>;
  readonly random: () => number;
  /** The servers in use, the subset, ejection and the picker. */
  private readonly balancer: Balancer<PoolConnection>;
  /** Calls waiting for a connection. */
  private readonly waiting: WaitingCalls;
  /** Asking the resolver where the servers are. */
  private readonly resolution: Resolution;
  private readonly listeners = new Set<(event: PoolEvent) => void>();
  private readonly budget: RetryBudget;
  private resolveClosed!: (error: RpcError) => void;
  private closeError: RpcError | undefined;
  /** Started (by a first call or whenReady) and not idle. */
  private active = false;
  private idleTimer: LongTimeout | undefined;
  /** `counters.picks` at the last idle check: no pick since means no call started. */
  private picksAtIdleCheck = 0;
  private readonly counters = { picks: 0, retries: 0, retriesDenied: 0, waits: 0, waitTimeouts: 0, resolutions: 0, resolveFailures: 0 };
  /** The calls through the pool's interceptors; undefined when it has none. */
  private readonly chain: CallTarget | undefined;

  /**
   * @param resolver where the servers are.
   * @param settings the checked options.
   * @param random a source of numbers in [0, 1) (tests pass their own).
   * @param clock time and timers for the balancer (ejections, connection ages, backoff) and the retry budget.
   */
  constructor(
    resolver: Resolver,
    readonly settings: PoolSettings,
    random: () => number = Math.random,
    clock: Clock = realClock,
  ) {
    this.target = resolver.name;
    this.waiting = new WaitingCalls(this);
    this.resolution = new Resolution(resolver, settings, this);
    this.random = random;
    this.budget = new RetryBudget(settings.retry, clock.now);
    this.balancer = new Balancer<PoolConnection>({ settings, host: this, createSlot: (a) => new Slot(a), clock, random });
    this.closed = new Promise<RpcError>((resolve) => (this.resolveClosed = resolve));
    if (settings.onEvent !== undefined) this.listeners.add(settings.onEvent);
    const own: CallTarget = { unary: (req) => this.unaryCall(req), stream: (req) => this.streamCall(req) };
    const chain = interceptCalls(own, settings.interceptors);
    this.chain = chain === own ? undefined : chain;
  }

  // ---- Transport -------------------------------------------------------------------

  close(): void {
    if (this.closeError !== undefined) return;
    const error = new RpcError(Code.Cancelled, "pool closed by the client", [], { peer: this.target });
    this.closeError = error;
    this.resolution.close();
    this.balancer.close(error);
    this.waiting.failAll(error);
    this.idleTimer?.cancel();
    this.idleTimer = undefined;
    this.resolveClosed(error);
  }

  // ---- visibility ------------------------------------------------------------------

  get stats(): PoolStats {
    return {
      target: this.target,
      resolved: this.balancer.resolvedCount,
      addresses: this.balancer.stats(),
      ...this.counters,
      retryTokens: this.budget.available,
    };
  }

  subscribe(listener: (event: PoolEvent) => void): () => void {
    if (typeof listener !== "function") throw new RpcError(Code.InvalidArgument, "subscribe() needs a function");
    const own = (event: PoolEvent) => listener(event);
    this.listeners.add(own);
    return () => this.listeners.delete(own);
  }

  whenReady(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    try {
      checkObject("whenReady options", options);
      const timeoutMs = checkNumber("timeoutMs", options.timeoutMs, 10_000, { infinity: true });
      const signal = checkSignal("signal", options.signal);
      if (this.closeError !== undefined) return Promise.reject(this.closedError());
      this.activate();
      if (this.balancer.connections.length > 0) return Promise.resolve();
      return this.waitFor(undefined, undefined, Date.now() + timeoutMs, signal, undefined, "connect").then(() => undefined);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  get isClosed(): boolean {
    return this.closeError !== undefined;
  }

  emit(event: PoolEvent): void {
    for (const l of this.listeners) {
      try {
        l(event);
      } catch {
        // A failing listener must not disturb the pool.
      }
    }
  }

  // ---- calls -----------------------------------------------------------------------

  private closedError(): RpcError {
    return new RpcError(Code.Unavailable, "pool is closed", [], { peer: this.target });
  }

  unary(request: UnaryRequest): Promise<UnaryResponse> {
    const chain = this.chain;
    return chain === undefined ? this.unaryCall(request) : chain.unary(request);
  }

  stream(request: StreamRequest): Promise<StreamResponse> {
    const chain = this.chain;
    return chain === undefined ? this.streamCall(request) : chain.stream(request);
  }

  /** A unary call: a connection ready now when there is one (the fast path), else the retrying call's. */
  private unaryCall(req: UnaryRequest): Promise<UnaryResponse> {
    let info: PoolCallInfo | undefined;
    try {
      info = this.beginCall(req);
    } catch (e) {
      return Promise.reject(e);
    }
    const pc = this.pickNow(req.key, undefined);
    if (pc === undefined) return this.unaryRetrying(new RetryingCall(this, req, info));
    this.picked(pc, info);
    return pc.conn.unary(req).then(
      (res) => {
        this.succeeded(pc);
        return res;
      },
      (e: unknown) => {
        const call = new RetryingCall(this, req, info);
        call.failed(pc, e);
        return this.unaryRetrying(call);
      },
    );
  }

  /** The slow path: waits for a connection and retries until a call succeeds or may not be retried. */
  private async unaryRetrying(call: RetryingCall): Promise<UnaryResponse> {
    for (;;) {
      const pc = await call.connection();
      try {
        const res = await pc.conn.unary(call.request as UnaryRequest);
        call.succeeded(pc);
        return res;
      } catch (e) {
        call.failed(pc, e);
      }
    }
  }

  /** A streaming call: a server stream retried until its first message, a request stream run where it lands. */
  private streamCall(req: StreamRequest): Promise<StreamResponse> {
    let info: PoolCallInfo | undefined;
    try {
      info = this.beginCall(req);
    } catch (e) {
      return Promise.reject(e);
    }
    if (req.method.methodKind !== "server_streaming") return requestStream(new RetryingCall(this, req, info));
    const stop = new AbortController();
    const stream = new PoolStream(new RetryingCall(this, req, info, stop.signal), stop);
    return Promise.resolve({ stream: true, message: stream, trailer: stream.trailer });
  }

  /** Starts a call through the pool: checks it is open, starts it, counts the call for the retry budget, records its attempts. */
  private beginCall(req: AnyRequest): PoolCallInfo | undefined {
    if (this.closeError !== undefined) throw markNotRun(this.closedError());
    if (!this.active) this.activate();
    this.budget.deposit();
    return this.callInfo(req);
  }

  private callInfo(req: AnyRequest): PoolCallInfo | undefined {
    const info: PoolCallInfo = { attempts: [] };
    req.contextValues.set(poolCallInfo, info);
    return info;
  }

  /** Counts a pick. */
  picked(pc: PoolConnection, info: PoolCallInfo | undefined): void {
    this.counters.picks++;
    pc.host.picks++;
    info?.attempts.push({ address: pc.host.key });
  }

  /** A call on `pc` succeeded. */
  succeeded(pc: PoolConnection): void {
    pc.host.callSucceeded();
    if (pc.retiring !== undefined) pc.closeIfIdle();
  }

  /**
   * An attempt of a call on `pc` failed with `e`; counts it in `attempts`.
   * Throws `e` when the call may not be retried; else returns the
   * connections to avoid next time.
   */
  afterFailure(
    pc: PoolConnection,
    request: AnyRequest,
    e: unknown,
    attempts: Attempts,
    info: PoolCallInfo | undefined,
    excluded: Set<PoolConnection> | undefined,
  ): Set<PoolConnection> {
    const method = request.method;
    if (pc.retiring !== undefined) pc.closeIfIdle();
    const last = info?.attempts[info.attempts.length - 1];
    if (last !== undefined && e instanceof RpcError) last.error = e;
    if (!(e instanceof RpcError)) throw e;
    const notRun = neverRan(e);
    if (!notRun) this.countCallError(pc, e);
    countFailure(attempts, e, notRun);
    if (!this.mayRetry(method, e, notRun, attempts, request.deadline)) throw e;
    this.counters.retries++;
    this.emit({
      type: "retry",
      method: `${method.parent.typeName}/${method.name}`,
      attempt: attempts.made + 1,
      address: pc.host.key,
      error: e,
      neverRan: notRun,
    });
    const set = excluded ?? new Set<PoolConnection>();
    set.add(pc);
    return set;
  }

  private mayRetry(method: AnyRequest["method"], e: RpcError, notRun: boolean, attempts: Attempts, deadline: number | undefined): boolean {
    if (this.closeError !== undefined) return false;
    const verdict = decideRetry(this.settings.retry, this.budget, {
      idempotent: isIdempotent(method),
      code: e.code,
      neverRan: notRun,
      attempts,
      deadline,
      now: Date.now(),
    });
    if (verdict === "budget") this.counters.retriesDenied++;
    return verdict === "retry";
  }

  // ---- picking ---------------------------------------------------------------------

  /** A connection for a call now, or undefined when the call must wait. */
  pickNow(key: string | undefined, excluded: ReadonlySet<PoolConnection> | undefined): PoolConnection | undefined {
    return this.balancer.pick(key, excluded);
  }

  /**
   * Waits for a connection for a call, up to its deadline and at most
   * waitForReadyMs; then fails `unavailable` naming the last error seen
   * (see WaitingCalls).
   */
  waitFor(
    key: string | undefined,
    excluded: ReadonlySet<PoolConnection> | undefined,
    deadline: number | undefined,
    signal: AbortSignal | undefined,
    attempts: Attempts | undefined,
    what: "call" | "connect",
    stop?: AbortSignal,
  ): Promise<PoolConnection> {
    if (this.closeError !== undefined) {
      const unrun = what === "call" && (attempts === undefined || attempts.made === attempts.neverRan);
      return Promise.reject(unrun ? markNotRun(this.closedError()) : this.closedError());
    }
    return this.waiting.wait(key, excluded, deadline, this.settings.waitForReadyMs, signal, attempts, what, stop);
  }

  /** WaitingHost: why no connection came, when no attempt said. */
  lastError(): string | undefined {
    const why = this.balancer.lastError();
    if (why !== undefined || this.balancer.size > 0) return why;
    return this.resolution.lastError?.rawMessage ?? "no address resolved yet";
  }

  /** WaitingHost: counts a wait, and a wait that ran out. */
  counted(what: "wait" | "timeout"): void {
    if (what === "wait") this.counters.waits++;
    else this.counters.waitTimeouts++;
  }

  /** Something changed (a connection up or down, a server in or out): serve waiting calls. */
  changed(): void {
    this.waiting.changed();
  }

  // ---- servers ---------------------------------------------------------------------

  /** Starts the pool (again, after idling): resolves the target, then connects. */
  private activate(): void {
    if (this.active || this.closeError !== undefined) return;
    this.active = true;
    this.balancer.wake();
    this.picksAtIdleCheck = this.counters.picks;
    this.armIdleCheck();
    void this.resolution.now();
  }

  /**
   * Checks for idleness every idleTimeoutMs: a pool with no call started
   * since the last check (no pick; the hot path pays nothing), none running
   * and none waiting goes idle, so after idleTimeoutMs to twice that.
   */
  private armIdleCheck(): void {
    const ms = this.settings.idleTimeoutMs;
    if (!Number.isFinite(ms)) return;
    this.idleTimer = startTimeout(() => this.checkIdle(), ms, true);
  }

  private checkIdle(): void {
    this.idleTimer = undefined;
    if (!this.active || this.closeError !== undefined) return;
    const picks = this.counters.picks;
    const busy = picks !== this.picksAtIdleCheck || this.waiting.size > 0 || this.resolution.busy || this.balancer.pendingCalls() > 0;
    this.picksAtIdleCheck = picks;
    if (busy) {
      this.armIdleCheck();
      return;
    }
    // Idle: connections close (none has calls), nothing reconnects or resolves until the next call.
    this.active = false;
    this.resolution.stop();
    this.balancer.idle();
    this.emit({ type: "idle" });
    this.changed();
  }

  /** ResolutionHost: the resolver answered. */
  resolved(endpoints: readonly Endpoint[]): void {
    this.balancer.update(endpoints);
    this.counters.resolutions++;
    this.emit({ type: "resolved", addresses: endpoints.map(endpointKey) });
  }

  /** ResolutionHost: the resolver failed. */
  failed(error: RpcError): void {
    this.counters.resolveFailures++;
    this.emit({ type: "resolve_failed", error });
  }

  /** ResolutionHost: started and not idle. */
  get isActive(): boolean {
    return this.active;
  }

  /** ResolutionHost: servers known now. */
  get knownServers(): number {
    return this.balancer.size;
  }

  /** Resolves again soon (a connection failed), at most once per minResolveIntervalMs. */
  resolveSoon(): void {
    this.resolution.soon();
  }

  /** An attempt on `pc` that may have run failed with `error`: a failure of its server when ejection counts that code. */
  countCallError(pc: PoolConnection, error: RpcError): void {
    this.balancer.countCallError(pc, error);
  }
}
