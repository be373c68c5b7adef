/**
 * The bounded queue between a connection and a reader: a stream's
 * responses on a client, a request stream's messages on a server. Messages
 * queue until read; past `highWater` unread messages the producer is told
 * to pause, and to resume once the reader has read down to half. Concurrent
 * `next()` calls are answered in order; `return()` ends the reading and
 * answers every pending `next()`.
 */

/** What a {@link MessageQueue} tells its producer. */
export interface QueueHooks {
  /** The reader fell `highWater` messages behind: stop producing. */
  pause(): void;
  /** The reader caught up to half of it: produce again. */
  resume(): void;
  /** The reader stopped reading (`return()`) while the stream was still open. */
  stopped?(): void;
  /** The reader took the last buffered message. */
  emptied?(): void;
}

interface Waiter<T> {
  resolve(result: IteratorResult<T>): void;
  reject(error: unknown): void;
}

const DONE: IteratorReturnResult<undefined> = { value: undefined, done: true };

/** A bounded async queue, read as an AsyncIterator (it is its own iterator: read it once). */
export class MessageQueue<T> implements AsyncIterable<T>, AsyncIterator<T> {
  private state: "open" | "ended" | "failed" | "done" = "open";
  private buffer: T[] = [];
  private head = 0;
  private waiters: Waiter<T>[] = [];
  private error: unknown;
  private paused = false;

  /**
   * @param highWater unread messages at which the producer is paused.
   * @param hooks what the producer is told.
   */
  constructor(
    private readonly highWater: number,
    private readonly hooks: QueueHooks,
  ) {}

  /** Messages queued and not read yet. */
  get buffered(): number {
    return this.buffer.length - this.head;
  }

  /** True until the stream ends, fails or the reader stops. */
  get open(): boolean {
    return this.state === "open";
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.waiters.length === 0) {
      if (this.buffered > 0) return Promise.resolve({ value: this.take(), done: false });
      if (this.state === "failed") {
        this.state = "done";
        return Promise.reject(this.error);
      }
      if (this.state !== "open") {
        this.state = "done";
        return Promise.resolve(DONE);
      }
    }
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** The reader stops: what is queued is dropped, and so is what still arrives. */
  return(): Promise<IteratorResult<T>> {
    const wasOpen = this.state === "open";
    this.state = "done";
    this.release();
    if (wasOpen) this.hooks.stopped?.();
    return Promise.resolve(DONE);
  }

  /** A message arrived (dropped once the stream has ended or the reader stopped). */
  push(value: T): void {
    if (this.state !== "open") return;
    this.buffer.push(value);
    if (!this.paused && this.buffered >= this.highWater) {
      this.paused = true;
      this.hooks.pause();
    }
    this.settle();
  }

  /** The stream ended: the reader gets what is queued, then the end. */
  end(): void {
    if (this.state !== "open") return;
    this.state = "ended";
    this.unpause();
    this.settle();
  }

  /**
   * The stream failed: the reader's next read (after what is queued, unless
   * `drop`) throws `error`.
   */
  fail(error: unknown, drop: boolean): void {
    if (this.state !== "open" && this.state !== "ended") {
      if (drop) this.release();
      return;
    }
    this.state = "failed";
    this.error = error;
    if (drop) this.release();
    this.unpause();
    this.settle();
  }

  /** Drops what is queued, lets the producer go on, and answers waiting reads. */
  release(): void {
    if (this.state === "open" || this.state === "ended") this.state = "done";
    this.buffer = [];
    this.head = 0;
    this.unpause();
    this.settle();
  }

  private take(): T {
    const v = this.buffer[this.head] as T;
    this.buffer[this.head++] = undefined as never;
    if (this.head === this.buffer.length) {
      this.buffer = [];
      this.head = 0;
      this.hooks.emptied?.();
    }
    if (this.paused && this.buffered <= this.highWater / 2) this.unpause();
    return v;
  }

  /** Answers waiting reads, in order: messages, then the end or the error. */
  private settle(): void {
    while (this.waiters.length > 0) {
      if (this.buffered > 0) {
        (this.waiters.shift() as Waiter<T>).resolve({ value: this.take(), done: false });
      } else if (this.state === "failed") {
        this.state = "done";
        (this.waiters.shift() as Waiter<T>).reject(this.error);
      } else if (this.state !== "open") {
        this.state = "done";
        (this.waiters.shift() as Waiter<T>).resolve(DONE);
      } else {
        return;
      }
    }
  }

  private unpause(): void {
    if (this.paused) {
      this.paused = false;
      this.hooks.resume();
    }
  }
}
