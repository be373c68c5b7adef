/**
 * Timers for any duration. Node's setTimeout fires after 1 ms for delays of
 * 2^31 ms or more (and for Infinity or NaN); these helpers chain timers for
 * long finite delays and arm none for Infinity.
 */

/** The longest delay setTimeout honours (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A pending timeout started by {@link startTimeout}. */
export interface LongTimeout {
  /** Stops it; `fn` will not run. Safe to call more than once, and after it fired. */
  cancel(): void;
}

const NEVER: LongTimeout = { cancel() {} };

/**
 * Runs `fn` once after `ms` milliseconds. `Infinity` arms nothing; finite
 * delays beyond setTimeout's limit are honoured by chaining. The timer does
 * not keep the process alive when `unref` is true.
 */
export function startTimeout(fn: () => void, ms: number, unref = false): LongTimeout {
  if (ms === Number.POSITIVE_INFINITY) return NEVER;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let remaining = Math.max(0, ms);
  const arm = () => {
    const step = Math.min(remaining, MAX_TIMER_MS);
    remaining -= step;
    timer = setTimeout(remaining > 0 ? arm : fn, step);
    if (unref) (timer as { unref?: () => void }).unref?.();
  };
  arm();
  return {
    cancel() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      remaining = 0;
    },
  };
}
