/**
 * A pool's resolution: asks its resolver where the servers are, now and
 * then again after an interval (sooner while nothing has resolved), and
 * again soon after a connection fails, at most once per
 * minResolveIntervalMs.
 */
import { Code, RpcError } from "../errors.js";
import { checkEndpoints, type Endpoint } from "./endpoint.js";
import type { PoolSettings } from "./pool-settings.js";
import type { Resolver } from "./resolver.js";

/** What a {@link Resolution} tells its pool. */
export interface ResolutionHost {
  /** The resolver answered these servers (never none). */
  resolved(endpoints: readonly Endpoint[]): void;
  /** The resolver failed (or answered none). */
  failed(error: RpcError): void;
  /** True once the pool has closed: nothing more is resolved. */
  readonly isClosed: boolean;
  /** True while the pool is started (not idle): only then is resolving again worth it. */
  readonly isActive: boolean;
  /** How many servers the pool knows now. */
  readonly knownServers: number;
}

/** The resolution loop of one pool. */
export class Resolution {
  private resolving = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly abort = new AbortController();
  private lastAt = Number.NEGATIVE_INFINITY;
  /** The last failure, until an answer comes. */
  lastError: RpcError | undefined;

  /**
   * @param resolver where the servers are.
   * @param settings the pool's intervals.
   * @param host the pool.
   */
  constructor(
    private readonly resolver: Resolver,
    private readonly settings: PoolSettings,
    private readonly host: ResolutionHost,
  ) {}

  /** True while the resolver is being asked. */
  get busy(): boolean {
    return this.resolving;
  }

  /** Asks the resolver now (unless it is being asked), then again after the interval. */
  async now(): Promise<void> {
    const host = this.host;
    if (this.resolving || host.isClosed) return;
    this.resolving = true;
    this.lastAt = Date.now();
    this.stop();
    let ok = false;
    try {
      const endpoints = checkEndpoints(await this.resolver.resolve(this.abort.signal), `resolver ${this.resolver.name}`);
      if (host.isClosed) return;
      if (endpoints.length === 0) throw new RpcError(Code.Unavailable, `${this.resolver.name} resolved to no address`);
      this.lastError = undefined;
      ok = true;
      host.resolved(endpoints);
    } catch (e) {
      if (host.isClosed) return;
      const error = RpcError.from(e, Code.Unavailable).withContext({ peer: this.resolver.name });
      this.lastError = error;
      host.failed(error);
    } finally {
      this.resolving = false;
    }
    if (host.isClosed || this.resolver.static === true) return;
    // Again after the interval; sooner while nothing has been resolved.
    const next = ok || host.knownServers > 0 ? this.settings.resolveIntervalMs : Math.max(this.settings.minResolveIntervalMs, 100);
    this.timer = setTimeout(() => void this.now(), next);
    this.timer.unref?.();
  }

  /** Asks again soon (a connection failed), at most once per minResolveIntervalMs. */
  soon(): void {
    if (this.resolver.static === true || this.host.isClosed || this.resolving || !this.host.isActive) return;
    const wait = this.lastAt + this.settings.minResolveIntervalMs - Date.now();
    if (wait <= 0) {
      void this.now();
      return;
    }
    this.stop();
    this.timer = setTimeout(() => void this.now(), wait);
    this.timer.unref?.();
  }

  /** Stops the timer (the pool idles). */
  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Stops for good (the pool closed): an answer on its way is dropped. */
  close(): void {
    this.abort.abort();
    this.stop();
  }
}
