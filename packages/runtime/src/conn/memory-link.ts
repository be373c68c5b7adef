import { Code, RpcError } from "../errors.js";
import { frameTooLarge, OVERSIZE_HEAD_BYTES } from "../wire/frame-error.js";
import { varintFraming, type Framing } from "../wire/framing.js";
import type { FrameHandler, FrameLink } from "./frame-link.js";
import { frameLimitError, framingChangeError, protocolViolation } from "./link-errors.js";

/** One side of an in-memory link pair. */
export interface MemoryLinkOptions {
  /** The name the other side reports as this side's address. */
  name: string;
  /** Largest frame this side sends or accepts, prefix included. */
  maxFrameBytes: number;
  /** Bytes this side may have in flight before {@link FrameLink.writable} is false. Default 1 MiB. */
  writeHighWaterBytes?: number;
  /** How frames are delimited (their prefix counts towards the frame limits). Default: varint. */
  framing?: Framing;
}

/** A frame on its way: its bytes, or, for one the receiver refuses for its size, its size and first bytes. */
type Delivery = { readonly body: Uint8Array; readonly frameBytes: number; readonly oversize: boolean };

/**
 * Two connected {@link FrameLink}s that pass frames in memory, with the
 * limits, ordering, backpressure and close behaviour of a socket: frames
 * are copied when sent and delivered on a later turn of the event loop, in
 * order; each side enforces its own frame limit on what it sends and on what
 * it receives; pausing a reader holds frames back and makes the sender
 * unwritable.
 */
export function createMemoryLinkPair(a: MemoryLinkOptions, b: MemoryLinkOptions): [FrameLink, FrameLink] {
  const left = new MemoryLink(a, b.name);
  const right = new MemoryLink(b, a.name);
  left.other = right;
  right.other = left;
  return [left, right];
}

class MemoryLink implements FrameLink {
  readonly peer: string;
  other!: MemoryLink;
  private readonly maxFrameBytes: number;
  private readonly highWater: number;
  private currentFraming: Framing;
  /** True once a frame went either way: the framing can no longer change. */
  used = false;
  private handler: FrameHandler | undefined;
  /** Frames sent to this side, not yet delivered. */
  private inbox: Delivery[] = [];
  /** Bytes in {@link inbox}: what the other side has in flight. */
  inboxBytes = 0;
  private deliveryScheduled = false;
  private pauses = 0;
  private isClosed = false;
  private isEnded = false;
  /** The other side ended: report it once the inbox is delivered. */
  private peerEnded = false;
  private peerEndReported = false;
  private waiters: (() => void)[] = [];
  private lastFrame = Date.now();
  private sent = 0;

  constructor(options: MemoryLinkOptions, peer: string) {
    this.peer = peer;
    this.maxFrameBytes = options.maxFrameBytes;
    this.highWater = options.writeHighWaterBytes ?? 1024 * 1024;
    this.currentFraming = options.framing ?? varintFraming;
  }

  get framing(): Framing {
    return this.currentFraming;
  }

  /** Sets the framing of both sides (they share one byte stream). */
  setFraming(framing: Framing): void {
    if (framing === this.currentFraming) return;
    if (this.used || this.other.used) throw framingChangeError(this.currentFraming.name, framing.name, this.peer);
    this.currentFraming = framing;
    this.other.currentFraming = framing;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  get ended(): boolean {
    return this.isEnded || this.isClosed;
  }

  get writable(): boolean {
    return !this.isClosed && !this.isEnded && this.other.inboxBytes < this.highWater;
  }

  get partialFrameSince(): number | undefined {
    return undefined;
  }

  get lastFrameAt(): number {
    return this.lastFrame;
  }

  get framesSent(): number {
    return this.sent;
  }

  /** Every frame sent is on its way to the peer at once: the peer sees it before any close. */
  get framesWritten(): number {
    return this.sent;
  }

  start(handler: FrameHandler): void {
    if (this.handler !== undefined) throw new Error("MemoryLink.start() called twice");
    this.handler = handler;
    this.scheduleDelivery();
  }

  send(body: Uint8Array, head?: Uint8Array): void {
    if (this.isClosed || this.isEnded) {
      throw new RpcError(Code.Unavailable, this.isClosed ? "connection is closed" : "connection is ending", [], { peer: this.peer });
    }
    const headBytes = head === undefined ? 0 : head.byteLength;
    const length = headBytes + body.byteLength;
    const frameBytes = this.currentFraming.prefixSize(length) + length;
    this.used = true;
    if (frameBytes > this.maxFrameBytes) throw frameLimitError(frameBytes, this.maxFrameBytes, this.peer);
    const other = this.other;
    const oversize = frameBytes > other.maxFrameBytes;
    // Copied, as a socket would: the caller may reuse `head` and `body`.
    const keep = oversize ? Math.min(length, OVERSIZE_HEAD_BYTES) : length;
    const bytes = new Uint8Array(keep);
    if (head !== undefined) bytes.set(head.subarray(0, Math.min(headBytes, keep)), 0);
    if (keep > headBytes) bytes.set(body.subarray(0, keep - headBytes), headBytes);
    this.sent++;
    other.receive({ body: bytes, frameBytes, oversize });
  }

  whenWritable(): Promise<void> {
    if (this.writable || this.isClosed) return Promise.resolve();
    return new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  pauseReading(): void {
    this.pauses++;
  }

  resumeReading(): void {
    if (this.pauses > 0 && --this.pauses === 0) this.scheduleDelivery();
  }

  end(): void {
    if (this.isClosed || this.isEnded) return;
    this.isEnded = true;
    this.wake();
    this.other.peerEnded = true;
    this.other.scheduleDelivery();
    if (this.peerEnded) this.bothEnded();
  }

  close(error: RpcError): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.isEnded = true;
    this.inbox = [];
    this.inboxBytes = 0;
    this.wake();
    this.other.wake();
    this.handler?.onClose(error);
    // The other side sees what was already on its way, then the close.
    const other = this.other;
    setImmediate(() => {
      other.deliver();
      other.close(new RpcError(Code.Unavailable, "connection closed by peer", [], { peer: other.peer }));
    });
  }

  private receive(d: Delivery): void {
    if (this.isClosed) return;
    this.inbox.push(d);
    this.inboxBytes += d.frameBytes;
    this.scheduleDelivery();
  }

  private scheduleDelivery(): void {
    if (this.deliveryScheduled || this.handler === undefined) return;
    this.deliveryScheduled = true;
    setImmediate(() => {
      this.deliveryScheduled = false;
      this.deliver();
    });
  }

  /** Hands the inbox to the handler, in order, until it is empty or reading is paused. */
  private deliver(): void {
    const handler = this.handler;
    if (handler === undefined) return;
    while (this.inbox.length > 0 && this.pauses === 0 && !this.isClosed) {
      const d = this.inbox.shift() as Delivery;
      this.inboxBytes -= d.frameBytes;
      if (d.oversize) {
        const error = protocolViolation(frameTooLarge(d.frameBytes, this.maxFrameBytes, d.body), this.peer);
        this.inbox = [];
        this.inboxBytes = 0;
        try {
          handler.onProtocolError(error, d.body);
        } catch {
          // The answer is a courtesy; the link closes either way.
        }
        this.isEnded = true;
        setImmediate(() => this.close(error));
        return;
      }
      this.lastFrame = Date.now();
      try {
        handler.onFrame(d.body);
      } catch (e) {
        this.close(protocolViolation(e, this.peer));
        return;
      }
    }
    this.other.wake();
    if (this.inbox.length === 0 && this.peerEnded && !this.peerEndReported && !this.isClosed) {
      this.peerEndReported = true;
      handler.onPeerEnd();
      if (this.isEnded) this.bothEnded();
    }
  }

  /** Both sides have finished sending: the link closes on both ends. */
  private bothEnded(): void {
    const closing = new RpcError(Code.Unavailable, "connection closed", [], { peer: this.peer });
    setImmediate(() => {
      if (!this.isClosed) {
        this.isClosed = true;
        this.handler?.onClose(closing);
      }
      const other = this.other;
      if (!other.isClosed) {
        other.isClosed = true;
        other.handler?.onClose(new RpcError(Code.Unavailable, "connection closed", [], { peer: other.peer }));
      }
    });
  }

  wake(): void {
    if (this.waiters.length > 0 && (this.isClosed || this.isEnded || this.writable)) {
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
    }
  }
}
