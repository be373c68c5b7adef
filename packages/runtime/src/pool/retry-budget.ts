import { Code, type RpcError } from "../errors.js";
import { checkCodes, checkNumber, checkObject } from "../util/validate.js";

/**
 * A token bucket that bounds retries so they cannot amplify an outage:
 * every call adds `ratio` tokens, every retry of a call that may have run
 * takes one, and `minPerSecond` tokens trickle in so a quiet pool can still
 * retry. With the defaults, retries add at most 20 % to the load (plus 10
 * per second), however many calls fail.
 */
export interface RetryBudgetOptions {
  /** Tokens each call adds. Default 0.2. */
  ratio?: number;
  /** Tokens added per second whatever the traffic. Default 10. */
  minPerSecond?: number;
  /** The bucket's size (and its content when the pool starts). Default 100. */
  maxTokens?: number;
}

/** When a call is sent again on another connection. */
export interface RetryOptions {
  /**
   * Attempts per call that may have run, the first included; 1 turns off
   * retries of calls that may have run. Such a call is retried only if its
   * method is marked `idempotency_level = IDEMPOTENT` or `NO_SIDE_EFFECTS`,
   * and only for `codes`. Attempts that never ran do not count here (see
   * {@link maxNeverRanRetries}). Every retry is also bounded by the call's
   * deadline. Default 3.
   */
  maxAttempts?: number;
  /**
   * Retries per call of attempts that never ran: the request never left this
   * process, or a draining server refused it (or said it ran nothing not yet
   * answered). Any method is retried then, on another connection, without
   * counting against `maxAttempts` or the budget: in a rolling restart a call
   * may meet several draining connections in a row before the pool has heard
   * from each. 0 turns them off. Default 10.
   */
  maxNeverRanRetries?: number;
  /** Codes on which a call of an idempotent method that may have run is retried. Default [Code.Unavailable]. */
  codes?: Code[];
  /** Bounds retries of calls that may have run (retries of calls that never ran cost nothing). */
  budget?: RetryBudgetOptions;
}

/** Checked retry settings. */
export interface RetrySettings {
  readonly maxAttempts: number;
  readonly maxNeverRanRetries: number;
  readonly codes: ReadonlySet<Code>;
  readonly ratio: number;
  readonly minPerSecond: number;
  readonly maxTokens: number;
}

/**
 * Checks retry options.
 *
 * @throws RpcError `invalid_argument` naming the option.
 */
export function checkRetry(options: RetryOptions | undefined): RetrySettings {
  checkObject("retry", options);
  const o = options ?? {};
  checkObject("retry.budget", o.budget);
  const b = o.budget ?? {};
  const maxTokens = checkNumber("retry.budget.maxTokens", b.maxTokens, 100, { min: 1, max: 1e9, fraction: true });
  return {
    maxAttempts: checkNumber("retry.maxAttempts", o.maxAttempts, 3, { min: 1, max: 100 }),
    maxNeverRanRetries: checkNumber("retry.maxNeverRanRetries", o.maxNeverRanRetries, 10, { min: 0, max: 1000 }),
    codes: checkCodes("retry.codes", o.codes, [Code.Unavailable]),
    ratio: checkNumber("retry.budget.ratio", b.ratio, 0.2, { min: 0, max: 1000, fraction: true }),
    minPerSecond: checkNumber("retry.budget.minPerSecond", b.minPerSecond, 10, { min: 0, max: 1e9, fraction: true }),
    maxTokens,
  };
}

/** The token bucket of {@link RetryBudgetOptions}. */
export class RetryBudget {
  private tokens: number;
  private refilledAt: number;

  constructor(
    private readonly settings: RetrySettings,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = settings.maxTokens;
    this.refilledAt = now();
  }

  /** Tokens now (for stats). */
  get available(): number {
    this.refill();
    return this.tokens;
  }

  /** A call started. */
  deposit(): void {
    const t = this.tokens + this.settings.ratio;
    this.tokens = Math.min(t, this.settings.maxTokens);
  }

  /** Takes a token for one retry; false when the budget is spent. */
  withdraw(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private refill(): void {
    const now = this.now();
    const elapsed = now - this.refilledAt;
    if (elapsed <= 0) return;
    this.refilledAt = now;
    this.tokens = Math.min(this.settings.maxTokens, this.tokens + (elapsed / 1000) * this.settings.minPerSecond);
  }
}

/** A call's failed attempts so far, as its retry limits count them. */
export interface Attempts {
  /** Attempts made and failed. */
  made: number;
  /** Of those, the ones that never ran (counted against `maxNeverRanRetries`, not `maxAttempts`). */
  neverRan: number;
  /** The last one's error. */
  last: RpcError | undefined;
}

/** No attempt failed yet. */
export function newAttempts(): Attempts {
  return { made: 0, neverRan: 0, last: undefined };
}
