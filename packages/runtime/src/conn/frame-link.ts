import type { RpcError } from "../errors.js";
import type { Framing } from "../wire/framing.js";

/** What a {@link FrameLink} reports to the layer above it. */
export interface FrameHandler {
  /**
   * One received frame body, in order. Throwing here is a protocol
   * violation: the link closes with that error.
   */
  onFrame(body: Uint8Array): void;
  /**
   * The peer broke the framing (a malformed prefix, or a frame over the
   * limit). The link has stopped reading; what the handler sends from here
   * is written before the link closes with `error`. `bodyHead` holds the
   * first bytes of a frame refused for its size (empty otherwise), so the
   * handler can answer the call it belonged to.
   */
  onProtocolError(error: RpcError, bodyHead: Uint8Array): void;
  /** The peer has finished sending (a half-close); the link can still send. */
  onPeerEnd(): void;
  /** Called once when the link has closed; `error` says why. */
  onClose(error: RpcError): void;
}

/**
 * A framed, ordered, two-way channel to one peer: a socket (socket-link.ts)
 * or an in-memory pipe (memory-link.ts). Client and server connections are
 * written against this, so both run unchanged over either.
 */
export interface FrameLink {
  /** The peer's address, "host:port" (or a name for in-memory links). */
  readonly peer: string;
  /** True once the link has closed. */
  readonly closed: boolean;
  /** True once {@link end} or {@link close} was called: nothing more can be sent. */
  readonly ended: boolean;
  /**
   * True while the peer keeps up: fewer than the high-water bytes are
   * queued. Producers wait with {@link whenWritable} when it is false.
   */
  readonly writable: boolean;
  /** When (Date.now()) the frame being received began, if one is incomplete. */
  readonly partialFrameSince: number | undefined;
  /** When (Date.now()) the last complete frame arrived (or the link opened). */
  readonly lastFrameAt: number;
  /** Frames {@link send} has accepted so far; the frame just sent is number `framesSent`. */
  readonly framesSent: number;
  /**
   * Frames that have left this process so far (handed to the socket, or to
   * the in-memory peer), in send order. Frame number n may have reached the
   * peer only if n <= framesWritten; a frame past it when the link closes
   * never left this process.
   */
  readonly framesWritten: number;
  /** How frames are delimited on this link (chosen by the encoding of the services it carries). */
  readonly framing: Framing;
  /**
   * Sets how frames are delimited, before the first frame goes either way:
   * a client learns it from the first service it calls. Throws an RpcError
   * (`internal`) when bytes were already sent or received with another
   * framing.
   */
  setFraming(framing: Framing): void;
  /** Starts reading; frames and events go to `handler`. Call once. */
  start(handler: FrameHandler): void;
  /**
   * Queues one frame whose bytes are `head` (if given) followed by `body`.
   * `head`, and a body under 16 KiB, are copied before this returns (a caller
   * may reuse them); a larger body is kept until written. Throws an RpcError
   * (nothing queued): `resource_exhausted` when the frame would exceed the
   * frame limit, `unavailable` once the link has ended or closed.
   */
  send(body: Uint8Array, head?: Uint8Array): void;
  /** Resolves when {@link writable} is true again (or the link closes). */
  whenWritable(): Promise<void>;
  /** Stops reading until every pause is matched by a resume. */
  pauseReading(): void;
  /** Undoes one {@link pauseReading}. */
  resumeReading(): void;
  /**
   * Sends nothing more: writes out what is queued, then half-closes. The
   * link closes when the peer closes too, or after `lingerMs` (default
   * 1,000 ms) when it does not.
   */
  end(lingerMs?: number): void;
  /** Closes at once: nothing queued is written; `onClose` gets `error`. */
  close(error: RpcError): void;
}
