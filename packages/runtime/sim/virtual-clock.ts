/**
 * A clock whose time moves only when the simulation says so: timers are
 * events in a binary heap, run in time order (ties in the order they were
 * set). Nothing ticks: a simulated hour with nothing to do costs nothing.
 */
import type { Clock } from "../src/util/clock.js";
import type { LongTimeout } from "../src/util/long-timeout.js";

/** A timer: its own cancel handle (one object per timer; a simulation sets millions). */
class Timer implements LongTimeout {
  constructor(
    readonly at: number,
    readonly seq: number,
    public fn: (() => void) | undefined,
  ) {}

  cancel(): void {
    this.fn = undefined;
  }
}

const NEVER: LongTimeout = { cancel() {} };

export class VirtualClock implements Clock {
  private time = 0;
  private seq = 0;
  private readonly heap: Timer[] = [];
  /** Timers run so far. */
  fired = 0;

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): LongTimeout {
    if (ms === Number.POSITIVE_INFINITY) return NEVER;
    const timer = new Timer(this.time + Math.max(0, ms), this.seq++, fn);
    this.push(timer);
    return timer;
  }

  /** Runs every timer due up to `until`, then sets the time to `until`. */
  runUntil(until: number): void {
    const heap = this.heap;
    while (heap.length > 0 && (heap[0] as Timer).at <= until) {
      const timer = this.pop();
      const fn = timer.fn;
      if (fn === undefined) continue;
      timer.fn = undefined;
      this.time = timer.at;
      this.fired++;
      fn();
    }
    this.time = Math.max(this.time, until);
  }

  /** Runs timers for `ms` more milliseconds. */
  advance(ms: number): void {
    this.runUntil(this.time + ms);
  }

  private before(a: Timer, b: Timer): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(timer: Timer): void {
    const heap = this.heap;
    let i = heap.length;
    heap.push(timer);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent] as Timer;
      if (!this.before(timer, p)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = timer;
  }

  private pop(): Timer {
    const heap = this.heap;
    const top = heap[0] as Timer;
    const last = heap.pop() as Timer;
    const n = heap.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const child = r < n && this.before(heap[r] as Timer, heap[l] as Timer) ? r : l;
        if (!this.before(heap[child] as Timer, last)) break;
        heap[i] = heap[child] as Timer;
        i = child;
      }
      heap[i] = last;
    }
    return top;
  }
}

/** A seeded source of numbers in [0, 1) (sfc32): the same seed, the same run. */
export function seededRandom(seed: number): () => number {
  let a = 0x9e3779b9 ^ seed;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const next = () => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  return next;
}
