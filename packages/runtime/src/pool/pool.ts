import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { interceptCalls } from "../call/interceptor.js";
import type { AnyRequest, StreamRequest, StreamResponse, UnaryRequest, UnaryResponse } from "../call/request.js";
import type { CallTarget } from "../call/transport.js";
import { neverRan } from "../client/never-ran.js";
import { markNotRun } from "../client/not-run.js";
import { Code, RpcError } from "../errors.js";
import { startTimeout, type LongTimeout } from "../util/long-timeout.js";
import { checkNumber, checkObject, checkSignal } from "../util/validate.js";
import { checkEndpoints, endpointKey, endpointWeight, type Endpoint } from "./endpoint.js";
import { pickLeast, pickLeastOutstanding, pickRoundRobin } from "./pickers.js";
import { PoolAddress, type AddressHooks } from "./pool-address.js";
import { poolCallInfo, type PoolCallInfo, type PoolEvent, type PoolStats } from "./pool-events.js";
import type { PoolSettings } from "./pool-settings.js";
import type { PoolTransport } from "./pool-transport.js";
import { PoolStream, requestStream } from "./pool-stream.js";
import { hashString, rendezvousScore } from "./rendezvous.js";
import type { Resolver } from "./resolver.js";
import { RetryBudget, type Attempts } from "./retry-budget.js";
import { RetryingCall, type AttemptHost } from "./retrying-call.js";
import type { PoolConnection, RetireReason } from "./slot.js";

/** A call waiting for a connection. */
interface Waiter {
  readonly key: string | undefined;
  readonly excluded: ReadonlySet<PoolConnection> | undefined;
  resolve(pc: PoolConnection): void;
  fail(error: RpcError): void;
}

function isIdempotent(method: AnyRequest["method"]): boolean {
  const level = method.idempotency;
  return level === MethodOptions_IdempotencyLevel.IDEMPOTENT || level === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS;
}

/** The pool of {@link createPool}. */
export class Pool implements PoolTransport, AddressHooks, AttemptHost {
  readonly target: string;
  readonly closed: Promise<RpcError>;
  readonly random: () => number;
  private readonly addresses = new Map<string, PoolAddress>();
  /** Servers no longer resolved whose connections are still draining (closed with the pool). */
  private readonly retiredAddresses = new Set<PoolAddress>();
  /** Pickable connections, rebuilt when {@link dirty}. */
  private readyList: PoolConnection[] = [];
  private dirty = true;
  private readonly waiters = new Set<Waiter>();
  private readonly listeners = new Set<(event: PoolEvent) => void>();
  private readonly budget: RetryBudget;
  private resolveClosed!: (error: RpcError) => void;
  private closeError: RpcError | undefined;
  /** Started (by a first call or whenReady) and not idle. */
  private active = false;
  private idleTimer: LongTimeout | undefined;
  /** `counters.picks` at the last idle check: no pick since means no call started. */
  private picksAtIdleCheck = 0;
  private resolving = false;
  private resolveTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly resolveAbort = new AbortController();
  private lastResolveAt = Number.NEGATIVE_INFINITY;
  private resolveError: RpcError | undefined;
  private readonly counters = { picks: 0, retries: 0, retriesDenied: 0, waits: 0, waitTimeouts: 0, resolutions: 0, resolveFailures: 0 };
  /** The calls through the pool's interceptors; undefined when it has none. */
  private readonly chain: CallTarget | undefined;

  /**
   * @param resolver where the servers are.
   * @param settings the checked options.
   * @param random a source of numbers in [0, 1) (tests pass their own).
   */
  constructor(
    private readonly resolver: Resolver,
    readonly settings: PoolSettings,
    random: () => number = Math.random,
  ) {
    this.target = resolver.name;
    this.random = random;
    this.budget = new RetryBudget(settings.retry);
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
    this.resolveAbort.abort();
    if (this.resolveTimer !== undefined) clearTimeout(this.resolveTimer);
    for (const a of this.addresses.values()) a.close(error);
    for (const a of this.retiredAddresses) a.close(error);
    this.retiredAddresses.clear();
    // An error of its own for each waiting call: some may be marked as never run, others not.
    for (const w of [...this.waiters]) w.fail(new RpcError(error.code, error.rawMessage, [], { peer: this.target }));
    this.waiters.clear();
    this.readyList = [];
    this.idleTimer?.cancel();
    this.idleTimer = undefined;
    this.resolveClosed(error);
  }

  // ---- visibility ------------------------------------------------------------------

  get stats(): PoolStats {
    return {
      target: this.target,
      addresses: [...this.addresses.values()].map((a) => a.stats()),
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
      if (this.ready().length > 0) return Promise.resolve();
      return this.waitFor(undefined, undefined, Date.now() + timeoutMs, signal, undefined, "connect").then(() => undefined);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  private emit(event: PoolEvent): void {
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
    attempts.made++;
    if (notRun) attempts.neverRan++;
    attempts.last = e;
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
    if (deadline !== undefined && Date.now() >= deadline) return false;
    const retry = this.settings.retry;
    // A call that never ran is safe to send again whatever it does, and costs the servers nothing;
    // it does not count against maxAttempts (several draining connections may refuse it in a row).
    if (notRun) return e.code === Code.Unavailable && attempts.neverRan <= retry.maxNeverRanRetries;
    if (attempts.made - attempts.neverRan >= retry.maxAttempts) return false;
    if (!isIdempotent(method) || !retry.codes.has(e.code)) return false;
    if (this.budget.withdraw()) return true;
    this.counters.retriesDenied++;
    return false;
  }

  // ---- picking ---------------------------------------------------------------------

  private ready(): PoolConnection[] {
    if (this.dirty) {
      const list: PoolConnection[] = [];
      for (const a of this.addresses.values()) if (!a.ejected) a.ready(list);
      this.readyList = list;
      this.dirty = false;
    }
    return this.readyList;
  }

  /** A connection for a call now, or undefined when the call must wait. */
  pickNow(key: string | undefined, excluded: ReadonlySet<PoolConnection> | undefined): PoolConnection | undefined {
    if (this.settings.picker === "key-hash" && key !== undefined) return this.pickByKey(key, excluded);
    let list = this.ready();
    if (excluded !== undefined) list = list.filter((pc) => !excluded.has(pc));
    return this.settings.picker === "round-robin" ? pickRoundRobin(list) : pickLeastOutstanding(list, this.random);
  }

  /**
   * Rendezvous hashing over the servers: the best-scoring server that is
   * up; if the best is still making its first connection, the call waits
   * for it (so keys do not move while a pool starts).
   */
  private pickByKey(key: string, excluded: ReadonlySet<PoolConnection> | undefined): PoolConnection | undefined {
    const h = hashString(key);
    const ranked: { a: PoolAddress; score: number }[] = [];
    for (const a of this.addresses.values()) ranked.push({ a, score: rendezvousScore(h, a.hash, a.weight) });
    ranked.sort((x, y) => y.score - x.score);
    for (const { a } of ranked) {
      const state = a.state;
      if (state === "ejected" || state === "transient_failure") continue;
      const list: PoolConnection[] = [];
      a.ready(list);
      const usable = excluded === undefined ? list : list.filter((pc) => !excluded.has(pc));
      if (usable.length > 0) return pickLeast(usable);
      if (state === "connecting" || state === "idle") return undefined;
    }
    return undefined;
  }

  /**
   * Waits for a connection for a call, up to its deadline and at most
   * waitForReadyMs; then fails `unavailable` naming the last error seen.
   */
  waitFor(
    key: string | undefined,
    excluded: ReadonlySet<PoolConnection> | undefined,
    deadline: number | undefined,
    signal: AbortSignal | undefined,
    attempts: Attempts | undefined,
    what: "call" | "connect",
    extraSignal?: AbortSignal,
  ): Promise<PoolConnection> {
    // A call that fails while waiting never ran if none of its attempts may have.
    const unrun = what === "call" && (attempts === undefined || attempts.made === attempts.neverRan);
    if (this.closeError !== undefined) return Promise.reject(unrun ? markNotRun(this.closedError()) : this.closedError());
    if (what === "call") this.counters.waits++;
    const now = Date.now();
    const limit = Math.min(
      deadline ?? Number.POSITIVE_INFINITY,
      what === "call" ? now + this.settings.waitForReadyMs : Number.POSITIVE_INFINITY,
    );
    return new Promise<PoolConnection>((resolve, reject) => {
      const cleanup = () => {
        this.waiters.delete(waiter);
        timer.cancel();
        signal?.removeEventListener("abort", onAbort);
        extraSignal?.removeEventListener("abort", onAbort);
      };
      const waiter: Waiter = {
        key,
        excluded,
        resolve: (pc) => {
          cleanup();
          resolve(pc);
        },
        fail: (error) => {
          cleanup();
          reject(unrun ? markNotRun(error) : error);
        },
      };
      const onAbort = () => {
        const reason = signal?.aborted === true ? signal.reason : undefined;
        // The call's deadline passed while it waited: no connection came in time.
        if (reason instanceof RpcError && reason.code === Code.DeadlineExceeded) {
          if (what === "call") this.counters.waitTimeouts++;
          waiter.fail(this.noConnectionError(now, attempts?.last));
          return;
        }
        waiter.fail(
          new RpcError(
            Code.Cancelled,
            what === "call" ? "call cancelled by the client while waiting for a connection" : "connect cancelled",
            [],
            { peer: this.target, cause: reason },
          ),
        );
      };
      const timer = startTimeout(() => {
        if (what === "call") this.counters.waitTimeouts++;
        waiter.fail(this.noConnectionError(now, attempts?.last));
      }, limit - now);
      if (signal?.aborted === true || extraSignal?.aborted === true) {
        onAbort();
        return;
      }
      signal?.addEventListener("abort", onAbort, { once: true });
      extraSignal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.add(waiter);
    });
  }

  private noConnectionError(since: number, lastError: RpcError | undefined): RpcError {
    const waited = Date.now() - since;
    let why = lastError?.rawMessage;
    if (why === undefined) {
      for (const a of this.addresses.values()) if (a.lastError !== undefined) why = `${a.key}: ${a.lastError.rawMessage}`;
    }
    if (why === undefined && this.addresses.size === 0)
      why = this.resolveError !== undefined ? this.resolveError.rawMessage : "no address resolved yet";
    return new RpcError(
      Code.Unavailable,
      `no connection ready after waiting ${waited} ms${why !== undefined ? ` (last error: ${why})` : ""}`,
      [],
      {
        peer: this.target,
        ...(lastError !== undefined ? { cause: lastError } : {}),
      },
    );
  }

  /** Something changed (a connection up or down, a server in or out): rebuild the ready list and serve waiting calls. */
  private changed(): void {
    this.dirty = true;
    if (this.waiters.size === 0) return;
    for (const w of [...this.waiters]) {
      const pc = this.pickNow(w.key, w.excluded);
      if (pc !== undefined) w.resolve(pc);
    }
  }

  // ---- servers ---------------------------------------------------------------------

  /** Starts the pool (again, after idling): resolves the target, then connects. */
  private activate(): void {
    if (this.active || this.closeError !== undefined) return;
    this.active = true;
    for (const a of this.addresses.values()) a.wake();
    this.picksAtIdleCheck = this.counters.picks;
    this.armIdleCheck();
    void this.resolveNow();
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
    let busy = picks !== this.picksAtIdleCheck || this.waiters.size > 0 || this.resolving;
    for (const a of this.addresses.values()) if (!busy && a.pendingCalls() > 0) busy = true;
    for (const a of this.retiredAddresses) if (!busy && a.pendingCalls() > 0) busy = true;
    this.picksAtIdleCheck = picks;
    if (busy) {
      this.armIdleCheck();
      return;
    }
    // Idle: connections close (none has calls), nothing reconnects or resolves until the next call.
    this.active = false;
    if (this.resolveTimer !== undefined) clearTimeout(this.resolveTimer);
    this.resolveTimer = undefined;
    for (const a of this.addresses.values()) a.idle();
    this.emit({ type: "idle" });
    this.changed();
  }

  private async resolveNow(): Promise<void> {
    if (this.resolving || this.closeError !== undefined) return;
    this.resolving = true;
    this.lastResolveAt = Date.now();
    if (this.resolveTimer !== undefined) clearTimeout(this.resolveTimer);
    this.resolveTimer = undefined;
    let ok = false;
    try {
      const endpoints = checkEndpoints(await this.resolver.resolve(this.resolveAbort.signal), `resolver ${this.target}`);
      if (this.closeError !== undefined) return;
      if (endpoints.length === 0) throw new RpcError(Code.Unavailable, `${this.target} resolved to no address`);
      this.update(endpoints);
      this.resolveError = undefined;
      this.counters.resolutions++;
      ok = true;
      this.emit({ type: "resolved", addresses: endpoints.map(endpointKey) });
    } catch (e) {
      if (this.closeError !== undefined) return;
      const error = RpcError.from(e, Code.Unavailable).withContext({ peer: this.target });
      this.resolveError = error;
      this.counters.resolveFailures++;
      this.emit({ type: "resolve_failed", error });
    } finally {
      this.resolving = false;
    }
    if (this.closeError !== undefined || this.resolver.static === true) return;
    // Again after the interval; sooner while nothing has been resolved.
    const next = ok || this.addresses.size > 0 ? this.settings.resolveIntervalMs : Math.max(this.settings.minResolveIntervalMs, 100);
    this.resolveTimer = setTimeout(() => void this.resolveNow(), next);
    this.resolveTimer.unref?.();
  }

  /** Resolves again soon (a connection failed), at most once per minResolveIntervalMs. */
  private resolveSoon(): void {
    if (this.resolver.static === true || this.closeError !== undefined || this.resolving || !this.active) return;
    const wait = this.lastResolveAt + this.settings.minResolveIntervalMs - Date.now();
    if (wait <= 0) {
      void this.resolveNow();
      return;
    }
    if (this.resolveTimer !== undefined) clearTimeout(this.resolveTimer);
    this.resolveTimer = setTimeout(() => void this.resolveNow(), wait);
    this.resolveTimer.unref?.();
  }

  /** Takes a new answer of the resolver: new servers start, gone ones drain. */
  private update(endpoints: readonly Endpoint[]): void {
    const seen = new Set<string>();
    for (const ep of endpoints) {
      const key = endpointKey(ep);
      if (seen.has(key)) continue;
      seen.add(key);
      const known = this.addresses.get(key);
      if (known !== undefined) {
        known.endpoint = ep;
        known.weight = endpointWeight(ep);
        continue;
      }
      const a = new PoolAddress(ep, this.settings.slot, this.settings.connectionsPerAddress, this);
      this.addresses.set(key, a);
      a.start();
    }
    for (const [key, a] of this.addresses) {
      if (seen.has(key)) continue;
      this.addresses.delete(key);
      if (a.ejectTimer !== undefined) clearTimeout(a.ejectTimer);
      this.retiredAddresses.add(a);
      a.remove();
    }
    this.changed();
  }

  // ---- what servers report (AddressHooks) ------------------------------------------

  connectionUp(a: PoolAddress, _pc: PoolConnection): void {
    this.emit({ type: "connection_up", address: a.key });
    this.changed();
  }

  connectionRetiring(a: PoolAddress, _pc: PoolConnection, reason: RetireReason): void {
    this.emit({ type: "connection_retiring", address: a.key, reason });
    this.changed();
  }

  connectionDown(a: PoolAddress, _pc: PoolConnection, error: RpcError, planned: boolean): void {
    this.emit({ type: "connection_down", address: a.key, error, planned });
    if (this.retiredAddresses.has(a) && !a.hasOpenConnections()) this.retiredAddresses.delete(a);
    if (!planned && this.closeError === undefined) {
      this.failed(a);
      this.resolveSoon();
    }
    this.changed();
  }

  connectFailed(a: PoolAddress, error: RpcError, retryInMs: number): void {
    this.emit({ type: "connect_failed", address: a.key, error, retryInMs });
    this.failed(a);
    this.resolveSoon();
    this.changed();
  }

  /** An attempt on `pc` that may have run failed with `error`: a failure of its server when ejection counts that code. */
  countCallError(pc: PoolConnection, error: RpcError): void {
    const codes = this.settings.ejection?.callErrorCodes;
    if (codes === undefined || codes.size === 0 || !codes.has(error.code)) return;
    const a = this.addresses.get(pc.host.key);
    if (a !== undefined && this.closeError === undefined) this.failed(a);
  }

  /** Counts a connection failure of `a`; ejects it when it keeps failing. */
  private failed(a: PoolAddress): void {
    a.consecutiveFailures++;
    const ejection = this.settings.ejection;
    if (ejection === undefined || a.ejected || a.consecutiveFailures < ejection.consecutiveFailures || !this.addresses.has(a.key)) return;
    let ejected = 0;
    for (const x of this.addresses.values()) if (x.ejected) ejected++;
    if (((ejected + 1) * 100) / this.addresses.size > ejection.maxPercent) return;
    a.ejectionsInARow++;
    a.ejections++;
    const forMs = Math.min(ejection.baseMs * a.ejectionsInARow, ejection.maxMs);
    a.ejectedUntil = Date.now() + forMs;
    a.ejectTimer = setTimeout(() => {
      if (this.closeError !== undefined || this.addresses.get(a.key) !== a) return;
      a.readmit();
      this.emit({ type: "readmitted", address: a.key });
      this.changed();
    }, forMs);
    a.ejectTimer.unref?.();
    this.emit({ type: "ejected", address: a.key, forMs });
    a.eject();
    this.changed();
  }
}
