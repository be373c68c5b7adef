import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { codeToString, RpcError, type Transport } from "@protosocket/runtime";
import { LatencyHistogram } from "./latency-histogram.js";

/** How much load, for how long. */
export interface BenchPlan {
  /** Calls in flight at once (workers), spread over the transports round-robin. */
  readonly concurrency: number;
  /** Measured calls to make (`-n`); the run ends when they have all completed. */
  readonly total?: number | undefined;
  /** Length of the measured window (`--duration`), ms. */
  readonly durationMs?: number | undefined;
  /** Load before the measured window, not counted, ms. */
  readonly warmupMs: number;
  /** Calls started per second over all workers (`--rate`); unlimited when undefined. */
  readonly rate?: number | undefined;
  /** How long to wait for calls in flight once a duration run's window closes or the run is stopped, ms. */
  readonly drainMs?: number | undefined;
}

/** One call of the benchmark on a transport; resolves with the number of response messages. */
export type BenchCall = (transport: Transport) => Promise<number>;

/** Why a run ended. */
export type StopReason = "count" | "duration" | "interrupted" | "connection_lost";

/** Failed calls of one code. */
export interface ErrorCount {
  /** The code's name ("unavailable"), or "unknown" for errors that are not RpcErrors. */
  readonly code: string;
  readonly count: number;
  /** The message of the first such error. */
  readonly example: string;
}

/** What a run measured. */
export interface BenchOutcome {
  /** Calls that succeeded in the measured window. */
  readonly ok: number;
  /** Calls that failed in the measured window. */
  readonly failed: number;
  readonly errors: ErrorCount[];
  /** Response messages received by successful calls (one per unary call). */
  readonly messages: number;
  /** Length of the measured window, ms. */
  readonly elapsedMs: number;
  /** Latencies of the successful calls. */
  readonly latency: LatencyHistogram;
  readonly stoppedBy: StopReason;
  /** What happened, when the run ended early. */
  readonly stopDetail?: string;
}

/** A snapshot for the progress line. */
export interface BenchProgress {
  readonly measuring: boolean;
  /** Since the measured window opened (or since the start, during warm-up), ms. */
  readonly elapsedMs: number;
  readonly ok: number;
  readonly failed: number;
  readonly inFlight: number;
}

/**
 * A closed-loop load run in the manner of ghz: `concurrency` workers each
 * make one call at a time, worker i on transport i mod N, each completion
 * starting that worker's next call (paced to `rate` when given). A call
 * counts when it starts inside the measured window and, for a duration run,
 * also ends inside it. The run stops early when a connection closes or
 * {@link stop} is called (Ctrl-C), and reports what it measured until then.
 */
export class BenchRun {
  private readonly latency = new LatencyHistogram();
  private readonly errorCounts = new Map<string, { count: number; example: string }>();
  private ok = 0;
  private failed = 0;
  private messages = 0;
  private inFlight = 0;
  private started = 0;
  private slots = 0;
  private measuring = false;
  private stopping = false;
  private stoppedBy: StopReason | undefined;
  private stopDetail: string | undefined;
  private runStart = 0;
  private windowStart = 0;
  private windowEnd: number | undefined;
  private wake: (() => void) | undefined;

  /**
   * @param transports the connections to spread calls over (at least one).
   * @param call makes one call.
   * @param plan how much load, for how long.
   */
  constructor(
    private readonly transports: readonly Transport[],
    private readonly call: BenchCall,
    private readonly plan: BenchPlan,
  ) {}

  /** Runs to the end of the plan (or until stopped) and reports. */
  async run(): Promise<BenchOutcome> {
    this.runStart = performance.now();
    for (const t of this.transports) {
      void t.closed.then((reason) => this.stop("connection_lost", `connection to ${t.target} closed: ${reason.rawMessage}`));
    }
    const stopped = new Promise<void>((resolve) => (this.wake = resolve));
    if (this.plan.warmupMs === 0) this.openWindow();
    const workers = Array.from({ length: this.plan.concurrency }, (_, i) =>
      this.worker(this.transports[i % this.transports.length] as Transport),
    );
    const allDone = Promise.all(workers);
    if (this.plan.warmupMs > 0) {
      await Promise.race([sleep(this.plan.warmupMs, undefined, { ref: false }), stopped]);
      if (!this.stopping) this.openWindow();
    }
    let durationTimer: ReturnType<typeof setTimeout> | undefined;
    if (this.plan.durationMs !== undefined && !this.stopping) {
      durationTimer = setTimeout(() => this.stop("duration"), this.plan.durationMs);
    }
    if (this.plan.total !== undefined) {
      // Ends by itself when the last call is done; stop() cuts it short.
      await Promise.race([allDone, stopped]);
      if (!this.stopping) this.stop("count");
    } else {
      await stopped;
    }
    if (durationTimer !== undefined) clearTimeout(durationTimer);
    await Promise.race([allDone, sleep(this.plan.drainMs ?? 2000, undefined, { ref: false })]);
    const end = this.windowEnd ?? performance.now();
    const outcome: BenchOutcome = {
      ok: this.ok,
      failed: this.failed,
      errors: [...this.errorCounts].map(([code, e]) => ({ code, count: e.count, example: e.example })).sort((a, b) => b.count - a.count),
      messages: this.messages,
      elapsedMs: this.measuring || this.windowEnd !== undefined ? end - this.windowStart : 0,
      latency: this.latency,
      stoppedBy: this.stoppedBy ?? "count",
    };
    return this.stopDetail !== undefined ? { ...outcome, stopDetail: this.stopDetail } : outcome;
  }

  /** Ends the run: no new calls; a duration run's window closes now. */
  stop(reason: StopReason, detail?: string): void {
    if (this.stopping) return;
    this.stopping = true;
    this.stoppedBy = reason;
    if (detail !== undefined) this.stopDetail = detail;
    if (this.measuring && this.windowEnd === undefined) this.windowEnd = performance.now();
    this.wake?.();
  }

  /** Where the run is, for the progress line. */
  progress(): BenchProgress {
    const now = performance.now();
    return {
      measuring: this.measuring,
      elapsedMs: now - (this.measuring ? this.windowStart : this.runStart),
      ok: this.ok,
      failed: this.failed,
      inFlight: this.inFlight,
    };
  }

  private openWindow(): void {
    this.measuring = true;
    this.windowStart = performance.now();
  }

  /** Claims the next call; false when the run is over for this worker. */
  private claim(): boolean {
    if (this.stopping) return false;
    if (this.measuring && this.plan.total !== undefined) {
      if (this.started >= this.plan.total) return false;
      this.started++;
    }
    return true;
  }

  private async worker(transport: Transport): Promise<void> {
    while (this.claim()) {
      if (this.plan.rate !== undefined) {
        const due = this.runStart + (this.slots++ * 1000) / this.plan.rate;
        const wait = due - performance.now();
        if (wait >= 1) await sleep(wait, undefined, { ref: false });
        if (this.stopping) return;
      }
      const counted = this.measuring;
      const begin = performance.now();
      this.inFlight++;
      try {
        const messages = await this.call(transport);
        this.complete(counted, begin, undefined, messages);
      } catch (e) {
        this.complete(counted, begin, e, 0);
      } finally {
        this.inFlight--;
      }
    }
  }

  private complete(counted: boolean, begin: number, error: unknown, messages: number): void {
    const end = performance.now();
    if (!counted || (this.windowEnd !== undefined && end > this.windowEnd)) return;
    if (error === undefined) {
      this.ok++;
      this.messages += messages;
      this.latency.record((end - begin) * 1000);
      return;
    }
    this.failed++;
    const code = error instanceof RpcError ? codeToString(error.code) : "unknown";
    const entry = this.errorCounts.get(code);
    if (entry !== undefined) entry.count++;
    else
      this.errorCounts.set(code, {
        count: 1,
        example: error instanceof RpcError ? error.message : String((error as Error)?.message ?? error),
      });
  }
}
