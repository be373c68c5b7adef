import type { OutputStream } from "../io.js";
import type { BenchProgress } from "./bench-run.js";

const int = (n: number) => Math.round(n).toLocaleString("en-US");

/**
 * The live line a bench run shows on a terminal, rewritten in place every
 * `intervalMs`; on anything else (a pipe, a file, CI logs) it shows nothing.
 */
export class ProgressLine {
  private timer: ReturnType<typeof setInterval> | undefined;
  private lastOk = 0;
  private lastAt = 0;
  private rate = 0;

  /**
   * @param out where to draw (stderr, so stdout stays the report).
   * @param read the current progress.
   * @param intervalMs how often to redraw.
   */
  constructor(
    private readonly out: OutputStream,
    private readonly read: () => BenchProgress,
    private readonly intervalMs = 250,
  ) {}

  /** True when the line is drawn at all (the stream is a terminal). */
  get enabled(): boolean {
    return this.out.isTTY === true;
  }

  start(): void {
    if (!this.enabled || this.timer !== undefined) return;
    this.timer = setInterval(() => this.draw(), this.intervalMs);
    this.timer.unref?.();
  }

  /** Removes the line. */
  stop(): void {
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.out.write("\r\x1b[K");
  }

  private draw(): void {
    const p = this.read();
    const dt = p.elapsedMs - this.lastAt;
    if (dt > 0 && p.ok >= this.lastOk) this.rate = ((p.ok - this.lastOk) * 1000) / dt;
    this.lastOk = p.ok;
    this.lastAt = p.elapsedMs;
    const phase = p.measuring ? "" : "warm-up ";
    const text = `${phase}${(p.elapsedMs / 1000).toFixed(1)} s  ${int(p.ok)} ok  ${int(p.failed)} failed  ${int(this.rate)} calls/s  ${int(p.inFlight)} in flight`;
    const width = this.out.columns ?? 100;
    this.out.write(`\r\x1b[K${text.slice(0, Math.max(10, width - 1))}`);
  }
}
