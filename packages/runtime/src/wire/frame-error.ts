/** Why a byte stream is not a valid sequence of frames. */
export type FrameErrorKind = "malformed-prefix" | "frame-too-large";

/** A framing violation found by the decoder or refused by the encoder. */
export class FrameError extends Error {
  /** What was wrong. */
  readonly kind: FrameErrorKind;
  /** The declared frame size (prefix included), for `frame-too-large`. */
  readonly frameBytes: number | undefined;
  /**
   * For a received `frame-too-large`: the first bytes of the refused body
   * that arrived with its prefix (at most {@link OVERSIZE_HEAD_BYTES}), so a
   * receiver can tell which call the frame belonged to. Empty when none did.
   */
  readonly bodyHead: Uint8Array;

  /**
   * @param kind what was wrong.
   * @param message a sentence naming the limit or the defect.
   * @param frameBytes the declared frame size, when known.
   * @param bodyHead the first bytes of a refused body, when known.
   */
  constructor(kind: FrameErrorKind, message: string, frameBytes?: number, bodyHead: Uint8Array = new Uint8Array(0)) {
    super(message);
    this.name = "FrameError";
    this.kind = kind;
    this.frameBytes = frameBytes;
    this.bodyHead = bodyHead;
  }
}

/** How many bytes of a refused body a decoder keeps in {@link FrameError.bodyHead}. */
export const OVERSIZE_HEAD_BYTES = 32;

/** The error for a frame of `frameBytes` (prefix included) over `maxFrameBytes`. */
export function frameTooLarge(frameBytes: number, maxFrameBytes: number, bodyHead?: Uint8Array): FrameError {
  return new FrameError(
    "frame-too-large",
    `frame of ${frameBytes} bytes exceeds the limit of ${maxFrameBytes} bytes (maxFrameBytes)`,
    frameBytes,
    bodyHead,
  );
}
