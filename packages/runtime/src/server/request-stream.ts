import type { Message } from "@bufbuild/protobuf";
import { Code, RpcError } from "../errors.js";
import { startTimeout, type LongTimeout } from "../util/long-timeout.js";

/** What a {@link RequestStream} needs of its connection. */
export interface RequestStreamHost {
  /** Stops reading the connection (pauses are counted). */
  pauseReading(): void;
  /** Undoes one {@link pauseReading}. */
  resumeReading(): void;
  /** When (Date.now()) the connection last started reading again; undefined while it is paused. */
  readonly readingSince: number | undefined;
}

interface Waiter {
  resolve(result: IteratorResult<Message>): void;
  reject(error: unknown): void;
}

const DONE: IteratorReturnResult<undefined> = { value: undefined, done: true };

/**
 * The requests of one client- or bidi-streaming call on the server, as its
 * handler reads them (`for await`). Messages queue until read; past
 * `highWater` unread messages the connection stops reading (every call on
 * it waits) until the handler has read down to half. The iteration ends
 * after End, and throws when the call is stopped (cancel, deadline, the
 * connection lost). With an idle limit, a stream whose handler has waited
 * that long for a message that does not come calls `onIdle`; time the
 * connection spends paused does not count.
 */
export class RequestStream implements AsyncIterable<Message>, AsyncIterator<Message> {
  private state: "open" | "ended" | "failed" | "done" = "open";
  private buffer: Message[] = [];
  private head = 0;
  private waiters: Waiter[] = [];
  private error: RpcError | undefined;
  private paused = false;
  /** When the handler last had nothing to read after a message arrived or was taken. */
  private idleSince = 0;
  private readonly idleLimited: boolean;
  private timer: LongTimeout | undefined;

  /**
   * @param host the connection.
   * @param highWater unread messages above which the connection pauses.
   * @param idleTimeoutMs how long the handler may wait for a message (0: forever).
   * @param onIdle called once when it waited longer.
   */
  constructor(
    private readonly host: RequestStreamHost,
    private readonly highWater: number,
    private readonly idleTimeoutMs: number,
    private readonly onIdle: () => void,
  ) {
    this.idleLimited = idleTimeoutMs > 0 && idleTimeoutMs !== Number.POSITIVE_INFINITY;
    if (this.idleLimited) {
      this.idleSince = Date.now();
      this.armIdle(idleTimeoutMs);
    }
  }

  /** Messages received and not read yet. */
  get buffered(): number {
    return this.buffer.length - this.head;
  }

  [Symbol.asyncIterator](): AsyncIterator<Message> {
    return this;
  }

  next(): Promise<IteratorResult<Message>> {
    if (this.waiters.length === 0) {
      if (this.buffered > 0) return Promise.resolve({ value: this.take(), done: false });
      if (this.state === "failed") {
        this.state = "done";
        return Promise.reject(this.error);
      }
      if (this.state !== "open") return Promise.resolve(DONE);
    }
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** The handler stops reading: what is buffered is dropped, and so is what still arrives. */
  return(): Promise<IteratorResult<Message>> {
    if (this.state === "open" || this.state === "ended") this.state = "done";
    this.release();
    return Promise.resolve(DONE);
  }

  /** A message arrived (dropped once the handler stopped reading or the stream ended). */
  push(message: Message): void {
    if (this.state !== "open") return;
    this.buffer.push(message);
    if (this.idleLimited) this.idleSince = Date.now();
    if (!this.paused && this.buffered >= this.highWater) {
      this.paused = true;
      this.host.pauseReading();
    }
    this.settle();
  }

  /** End arrived: the iteration completes after what is buffered. */
  end(): void {
    if (this.state !== "open") return;
    this.state = "ended";
    this.stopTimer();
    this.settle();
  }

  /** The call stopped: what is buffered is dropped and the handler's next read throws `error`. */
  fail(error: RpcError): void {
    if (this.state === "failed" || this.state === "done") {
      this.release();
      return;
    }
    this.state = "failed";
    this.error = error;
    this.release();
  }

  /** The call is over: drops what is buffered, resumes reading, stops the idle timer, answers waiting reads. */
  release(): void {
    if (this.state === "open" || this.state === "ended") this.state = "done";
    this.buffer = [];
    this.head = 0;
    this.stopTimer();
    this.unpause();
    this.settle();
  }

  private take(): Message {
    const v = this.buffer[this.head] as Message;
    this.buffer[this.head++] = undefined as never;
    if (this.head === this.buffer.length) {
      this.buffer = [];
      this.head = 0;
      if (this.idleLimited) this.idleSince = Date.now();
    }
    if (this.paused && this.buffered <= this.highWater / 2) this.unpause();
    return v;
  }

  /** Answers waiting reads, in order: messages, then the end or the error. */
  private settle(): void {
    while (this.waiters.length > 0) {
      if (this.buffered > 0) {
        (this.waiters.shift() as Waiter).resolve({ value: this.take(), done: false });
      } else if (this.state === "failed") {
        this.state = "done";
        (this.waiters.shift() as Waiter).reject(this.error);
      } else if (this.state !== "open") {
        (this.waiters.shift() as Waiter).resolve(DONE);
      } else {
        return;
      }
    }
  }

  private unpause(): void {
    if (this.paused) {
      this.paused = false;
      this.host.resumeReading();
    }
  }

  private armIdle(ms: number): void {
    this.timer = startTimeout(this.checkIdle, ms, true);
  }

  private readonly checkIdle = (): void => {
    this.timer = undefined;
    if (this.state !== "open") return;
    const now = Date.now();
    const limit = this.idleTimeoutMs;
    // Waiting while the connection does not read (for this call or another) is not the client's silence.
    const since = Math.max(this.idleSince, this.host.readingSince ?? now);
    if (this.buffered === 0 && now - since >= limit) {
      this.onIdle();
      return;
    }
    this.armIdle(this.buffered > 0 ? limit : Math.max(1, limit - (now - since)));
  };

  private stopTimer(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }
}

/** The error that ends a request stream whose client sent nothing for `ms` (requestStreamIdleTimeoutMs). */
export function requestStreamIdleError(ms: number): RpcError {
  return new RpcError(Code.DeadlineExceeded, `the request stream sent no message for ${ms} ms (requestStreamIdleTimeoutMs)`);
}

/**
 * The answer to a request that arrives with End for a method whose requests
 * are one message (unary, server streaming): End only closes the client's
 * side of a client- or bidi-streaming call.
 */
export function endWithoutStreamError(method: string, kind: string): RpcError {
  return new RpcError(
    Code.InvalidArgument,
    `a request for ${method} (${kind.replace("_", " ")}) arrived with control code End (2); a unary or server-streaming request is sent with Normal (0), End only closes the client's side of a client- or bidi-streaming call`,
  );
}
