import type { StreamRequest, StreamResponse } from "../call/request.js";
import type { EnvelopeCodecs, MethodCodec } from "../encoding/encoding.js";
import type { RpcError } from "../errors.js";
import { MessageQueue, type QueueHooks } from "../util/message-queue.js";
import { type CallHost, ClientCall } from "./client-call.js";

/**
 * A server-streaming call: its responses queue until read (the
 * {@link MessageQueue} is the response's message stream); past the
 * connection's stream buffer, the connection stops reading until the reader
 * catches up. A reader that stops early (`return()`) cancels the call.
 */
export class ServerStreamCall extends ClientCall implements QueueHooks {
  /** The responses, as the caller reads them. */
  private readonly queue: MessageQueue<unknown>;
  /** The trailers of the call's last frame, filled in when it comes. */
  private readonly trailer = new Map<string, string>();
  private done = false;

  /**
   * @param conn the connection the call runs on.
   * @param codecs the codecs of the method's service.
   * @param method the method.
   * @param request the call's request.
   * @param highWater buffered responses above which the connection pauses.
   */
  constructor(conn: CallHost, codecs: EnvelopeCodecs, method: MethodCodec, request: StreamRequest, highWater: number) {
    super(conn, codecs, method, request);
    this.queue = new MessageQueue(highWater, this);
  }

  /** The call's response: its messages as they arrive, and its trailers once it ends. */
  get response(): StreamResponse {
    return { stream: true, message: this.queue, trailer: this.trailer };
  }

  deliver(value: unknown): void {
    this.queue.push(value);
  }

  end(trailers: ReadonlyMap<string, string> | undefined): void {
    if (!this.settle()) return;
    if (trailers !== undefined) for (const [k, v] of trailers) this.trailer.set(k, v);
    this.queue.end();
    this.closed(true);
  }

  fail(error: RpcError): void {
    if (!this.settle()) return;
    this.queue.fail(error, false);
    this.closed(true);
  }

  protected abandon(error: RpcError): void {
    if (!this.settle()) return;
    this.queue.fail(error, false);
    this.closed(false);
  }

  /** QueueHooks: the reader fell behind. */
  pause(): void {
    this.conn.pauseForStream();
  }

  /** QueueHooks: the reader caught up. */
  resume(): void {
    this.conn.resumeForStream();
  }

  /** QueueHooks: the reader stopped early: the call is cancelled. */
  stopped(): void {
    if (!this.settle()) return;
    this.conn.cancel(this);
    this.closed(false);
  }

  /**
   * The call has ended: `byServer` when the server (or the connection)
   * ended it, otherwise the client gave up and has sent its Cancel. For
   * subclasses with a request stream to stop.
   */
  protected closed(_byServer: boolean): void {}

  /** Marks the call over once; false when it already was. */
  private settle(): boolean {
    if (this.done) return false;
    this.done = true;
    this.unlisten();
    return true;
  }
}
