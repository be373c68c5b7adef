import type { Message } from "@bufbuild/protobuf";
import type { EnvelopeCodecs, MethodCodec } from "../envelope/service-codecs.js";
import type { RpcError } from "../errors.js";
import { startTimeout, type LongTimeout } from "../util/long-timeout.js";
import type { CallOptions } from "./call-options.js";
import type { CallHost, PendingCall } from "./pending-call.js";

const DONE: IteratorReturnResult<undefined> = { value: undefined, done: true };

interface Waiter {
  resolve(result: IteratorResult<Message>): void;
  reject(error: unknown): void;
}

/**
 * A server-streaming call, as the async iterator its caller reads. The
 * request is sent on the first `next()`. Responses queue until read; past
 * the connection's stream buffer, the connection stops reading until the
 * reader catches up. Concurrent `next()` calls are answered in order, and a
 * `return()` settles every pending `next()`.
 */
export class ServerStreamCall implements PendingCall, AsyncIterator<Message> {
  id = 0;
  onTrailer: ((trailers: ReadonlyMap<string, string>) => void) | undefined;
  seq = 0;
  protected state: "idle" | "open" | "ended" | "failed" | "done" = "idle";
  private buffer: Message[] = [];
  private head = 0;
  private error: RpcError | undefined;
  private waiters: Waiter[] = [];
  private paused = false;
  private timer: LongTimeout | undefined;
  private signal: AbortSignal | undefined;

  /**
   * @param conn the connection the call runs on.
   * @param codecs the codecs of the method's service.
   * @param method the method.
   * @param request the request message.
   * @param options the call's options.
   * @param highWater buffered responses above which the connection pauses.
   */
  constructor(
    protected readonly conn: CallHost,
    readonly codecs: EnvelopeCodecs,
    readonly method: MethodCodec,
    private readonly request: unknown,
    protected readonly options: CallOptions | undefined,
    private readonly highWater: number,
  ) {}

  next(): Promise<IteratorResult<Message>> {
    if (this.state === "idle") {
      const e = this.begin();
      if (e !== undefined) {
        this.state = "done";
        return Promise.reject(e);
      }
    }
    if (this.waiters.length === 0) {
      if (this.buffered > 0) return Promise.resolve({ value: this.take(), done: false });
      if (this.state === "failed") {
        this.state = "done";
        return Promise.reject(this.error);
      }
      if (this.state === "ended" || this.state === "done") {
        this.state = "done";
        return Promise.resolve(DONE);
      }
    }
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
    });
  }

  return(): Promise<IteratorResult<Message>> {
    if (this.state === "open") {
      this.conn.cancel(this);
      this.disarm();
      this.unpause();
      this.closed(false);
    }
    this.state = "done";
    this.buffer = [];
    this.head = 0;
    this.settle();
    return Promise.resolve(DONE);
  }

  deliver(value: Message): void {
    this.buffer.push(value);
    if (!this.paused && this.buffered >= this.highWater) {
      this.paused = true;
      this.conn.pauseForStream();
    }
    this.settle();
  }

  end(): void {
    this.finish("ended", undefined, true);
  }

  fail(error: RpcError): void {
    this.finish("failed", error, true);
  }

  private get buffered(): number {
    return this.buffer.length - this.head;
  }

  /** Sends the request; returns the error when the call cannot start. */
  protected begin(): RpcError | undefined {
    this.state = "open";
    const early = this.conn.open(this, this.request, this.options);
    if (early !== undefined) return early;
    this.arm();
    return undefined;
  }

  /** Starts the call's deadline and listens to its signal. */
  protected arm(): void {
    const options = this.options;
    if (options?.timeoutMs !== undefined) {
      const timeoutMs = options.timeoutMs;
      this.timer = startTimeout(() => this.abort(this.conn.deadlineError(this.method, timeoutMs)), timeoutMs);
    }
    if (options?.signal !== undefined) {
      this.signal = options.signal;
      this.signal.addEventListener("abort", this.onAbort, { once: true });
    }
  }

  /**
   * The call has ended: `byServer` when the server (or the connection)
   * ended it, otherwise the client gave up and has sent its Cancel. For
   * subclasses with a request stream to stop.
   */
  protected closed(_byServer: boolean): void {}

  private readonly onAbort = (): void => {
    this.abort(this.conn.cancelledError(this.method, this.signal?.reason));
  };

  /** The client gives up: tell the server, and fail. */
  protected abort(error: RpcError): void {
    if (this.state !== "open") return;
    this.conn.cancel(this);
    this.finish("failed", error, false);
  }

  private take(): Message {
    const v = this.buffer[this.head] as Message;
    this.buffer[this.head++] = undefined as never;
    if (this.head === this.buffer.length) {
      this.buffer = [];
      this.head = 0;
    }
    if (this.paused && this.buffered <= this.highWater / 2) this.unpause();
    return v;
  }

  private finish(next: "ended" | "failed", error: RpcError | undefined, byServer: boolean): void {
    if (this.state !== "open") return;
    this.disarm();
    this.state = next;
    this.error = error;
    this.unpause();
    this.closed(byServer);
    this.settle();
  }

  /** Answers waiting `next()` calls, in order, with what is buffered, then the end or the error. */
  private settle(): void {
    while (this.waiters.length > 0) {
      if (this.buffered > 0) {
        (this.waiters.shift() as Waiter).resolve({ value: this.take(), done: false });
      } else if (this.state === "failed") {
        this.state = "done";
        (this.waiters.shift() as Waiter).reject(this.error);
      } else if (this.state === "ended" || this.state === "done") {
        this.state = "done";
        (this.waiters.shift() as Waiter).resolve(DONE);
      } else {
        return;
      }
    }
  }

  private unpause(): void {
    if (this.paused) {
      this.paused = false;
      this.conn.resumeForStream();
    }
  }

  private disarm(): void {
    this.timer?.cancel();
    this.signal?.removeEventListener("abort", this.onAbort);
  }
}
