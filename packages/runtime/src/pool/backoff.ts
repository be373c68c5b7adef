import { checkNumber, checkObject } from "../util/validate.js";

/**
 * Delays between attempts to (re)connect to one server. The defaults are
 * gRPC's connection-backoff numbers: 1 s, then × 1.6 per failure up to
 * 120 s, each delay ± 20 % at random so clients that lost the same server
 * do not return at the same instant.
 */
export interface BackoffOptions {
  /** The first delay. Default 1,000 ms. */
  initialMs?: number;
  /** Each failed attempt multiplies the delay by this. Default 1.6. */
  multiplier?: number;
  /** Each delay is moved by up to this fraction, up or down, at random. Default 0.2. */
  jitter?: number;
  /** The longest delay. Default 120,000 ms. */
  maxMs?: number;
}

/** Checked backoff settings. */
export type BackoffSettings = Readonly<Required<BackoffOptions>>;

/**
 * Checks backoff options.
 *
 * @throws RpcError `invalid_argument` naming the option.
 */
export function checkBackoff(options: BackoffOptions | undefined): BackoffSettings {
  checkObject("backoff", options);
  const o = options ?? {};
  const initialMs = checkNumber("backoff.initialMs", o.initialMs, 1_000, { min: 1, max: 2 ** 31 - 1 });
  return {
    initialMs,
    multiplier: checkNumber("backoff.multiplier", o.multiplier, 1.6, { min: 1, max: 100, fraction: true }),
    jitter: checkNumber("backoff.jitter", o.jitter, 0.2, { min: 0, max: 1, fraction: true }),
    maxMs: checkNumber("backoff.maxMs", o.maxMs, Math.max(120_000, initialMs), { min: initialMs, max: 2 ** 31 - 1 }),
  };
}

/** The delays of one server's reconnection attempts. */
export class Backoff {
  private current: number;

  /**
   * @param settings the delays.
   * @param random a source of numbers in [0, 1) (tests pass their own).
   */
  constructor(
    private readonly settings: BackoffSettings,
    private readonly random: () => number = Math.random,
  ) {
    this.current = settings.initialMs;
  }

  /** The delay before the next attempt (jittered); later calls return longer delays. */
  next(): number {
    const { jitter, multiplier, maxMs } = this.settings;
    const base = this.current;
    this.current = Math.min(base * multiplier, maxMs);
    return Math.max(0, Math.round(base * (1 + jitter * (this.random() * 2 - 1))));
  }

  /** Starts over from the first delay (after a connection that worked). */
  reset(): void {
    this.current = this.settings.initialMs;
  }
}
