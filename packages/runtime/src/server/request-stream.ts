import { Code, RpcError } from "../errors.js";
import { startTimeout, type LongTimeout } from "../util/long-timeout.js";
import { MessageQueue, type QueueHooks } from "../util/message-queue.js";

/** What a {@link RequestStream} needs of its connection. */
export interface RequestStreamHost {
  /** Stops reading the connection (pauses are counted). */
  pauseReading(): void;
  /** Undoes one {@link pauseReading}. */
  resumeReading(): void;
  /** When (Date.now()) the connection last started reading again; undefined while it is paused. */
  readonly readingSince: number | undefined;
}

/**
 * The requests of one client- or bidi-streaming call on the server: the
 * connection pushes them, the handler reads {@link messages} (`for await`).
 * Messages queue until read; past `highWater` unread messages the
 * connection stops reading (every call on it waits) until the handler has
 * read down to half. The iteration ends after End, and throws when the call
 * is stopped (cancel, deadline, the connection lost). With an idle limit, a
 * stream whose handler has waited that long for a message that does not
 * come calls `onIdle`; time the connection spends paused does not count.
 */
export class RequestStream implements QueueHooks {
  /** The requests, as the handler reads them. */
  readonly messages: MessageQueue<unknown>;
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
    highWater: number,
    private readonly idleTimeoutMs: number,
    private readonly onIdle: () => void,
  ) {
    this.messages = new MessageQueue(highWater, this);
    this.idleLimited = idleTimeoutMs > 0 && idleTimeoutMs !== Number.POSITIVE_INFINITY;
    if (this.idleLimited) {
      this.idleSince = Date.now();
      this.armIdle(idleTimeoutMs);
    }
  }

  /** A message arrived (dropped once the handler stopped reading or the stream ended). */
  push(message: unknown): void {
    if (!this.messages.open) return;
    this.messages.push(message);
    if (this.idleLimited) this.idleSince = Date.now();
  }

  /** End arrived: the iteration completes after what is buffered. */
  end(): void {
    this.stopTimer();
    this.messages.end();
  }

  /** The call stopped: what is buffered is dropped and the handler's next read throws `error`. */
  fail(error: RpcError): void {
    this.stopTimer();
    this.messages.fail(error, true);
  }

  /** The call is over: drops what is buffered, resumes reading, stops the idle timer, answers waiting reads. */
  release(): void {
    this.stopTimer();
    this.messages.release();
  }

  /** QueueHooks: the handler fell behind. */
  pause(): void {
    this.host.pauseReading();
  }

  /** QueueHooks: the handler caught up. */
  resume(): void {
    this.host.resumeReading();
  }

  /** QueueHooks: the handler read everything that came. */
  emptied(): void {
    if (this.idleLimited) this.idleSince = Date.now();
  }

  private armIdle(ms: number): void {
    this.timer = startTimeout(this.checkIdle, ms, true);
  }

  private readonly checkIdle = (): void => {
    this.timer = undefined;
    if (!this.messages.open) return;
    const now = Date.now();
    const limit = this.idleTimeoutMs;
    // Waiting while the connection does not read (for this call or another) is not the client's silence.
    const since = Math.max(this.idleSince, this.host.readingSince ?? now);
    const buffered = this.messages.buffered;
    if (buffered === 0 && now - since >= limit) {
      this.onIdle();
      return;
    }
    this.armIdle(buffered > 0 ? limit : Math.max(1, limit - (now - since)));
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
