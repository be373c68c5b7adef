import { startTimeout, type LongTimeout } from "./long-timeout.js";

/**
 * Time as the pool's balancing code reads it: the time now and one-shot
 * timers. The real clock is `Date.now` and unref'd timers (they never keep
 * a process alive); a simulation passes a virtual clock whose timers fire
 * as it advances time, so the same code runs over hours of simulated time
 * in seconds.
 */
export interface Clock {
  /** Milliseconds, as Date.now() counts them. */
  now(): number;
  /** Runs `fn` once after `ms` ms (Infinity: never). The returned handle cancels it. */
  setTimeout(fn: () => void, ms: number): LongTimeout;
}

/** Date.now and unref'd timers of any length. */
export const realClock: Clock = {
  now: Date.now,
  setTimeout: (fn, ms) => startTimeout(fn, ms, true),
};
