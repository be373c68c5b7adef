/**
 * A call's one AbortSignal: the caller's signal and the deadline, joined.
 * Built once where a call enters, so everything after it (interceptors,
 * pools, connections) listens to one signal and sets no timer of its own.
 */
import { startTimeout, type LongTimeout } from "./long-timeout.js";

/** A signal that never aborts: the signal of calls with neither a caller's signal nor a deadline. */
export const NEVER_ABORTS: AbortSignal = new AbortController().signal;

/** A call's signal, and what ends its timer and listener. */
export interface DeadlineSignal {
  /** Aborts with the caller's reason when the caller's signal aborts, or with `timeoutReason()` at the deadline. */
  readonly signal: AbortSignal;
  /** The deadline in Date.now() milliseconds; undefined for none. */
  readonly deadline: number | undefined;
  /** Stops the timer and the listener on the caller's signal: call it once the call is over. */
  cleanup(): void;
}

const NOTHING = (): void => {};

/** The deadline each signal made here aborts at. */
const deadlines = new WeakMap<AbortSignal, number>();

/** The deadline `signal` aborts at, when it was made by {@link createDeadlineSignal} with one. */
export function deadlineOf(signal: AbortSignal): number | undefined {
  return deadlines.get(signal);
}

/**
 * Joins `signal` (the caller's, if any) and a timeout of `timeoutMs` (none
 * when undefined or Infinity) into one signal. Without a timeout, the
 * caller's signal (or {@link NEVER_ABORTS}) is returned as it is: nothing is
 * allocated.
 *
 * @param timeoutReason the abort reason at the deadline (made when it passes).
 */
export function createDeadlineSignal(
  signal: AbortSignal | undefined,
  timeoutMs: number | undefined,
  timeoutReason: () => unknown,
): DeadlineSignal {
  if (timeoutMs === undefined || timeoutMs === Number.POSITIVE_INFINITY) {
    return { signal: signal ?? NEVER_ABORTS, deadline: undefined, cleanup: NOTHING };
  }
  const deadline = Date.now() + timeoutMs;
  const controller = new AbortController();
  deadlines.set(controller.signal, deadline);
  if (signal?.aborted === true) {
    controller.abort(signal.reason);
    return { signal: controller.signal, deadline, cleanup: NOTHING };
  }
  let timer: LongTimeout | undefined;
  const onAbort = (): void => {
    timer?.cancel();
    controller.abort(signal?.reason);
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  timer = startTimeout(() => {
    signal?.removeEventListener("abort", onAbort);
    controller.abort(timeoutReason());
  }, timeoutMs);
  return {
    signal: controller.signal,
    deadline,
    cleanup() {
      timer?.cancel();
      signal?.removeEventListener("abort", onAbort);
    },
  };
}
