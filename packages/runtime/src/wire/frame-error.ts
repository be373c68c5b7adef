/** Why a byte stream is not a valid sequence of frames. */
export type FrameErrorKind = "malformed-prefix" | "frame-too-large";

/** A framing violation found by the decoder or refused by the encoder. */
export class FrameError extends Error {
  /** What was wrong. */
  readonly kind: FrameErrorKind;
  /** The declared frame size (prefix included), for `frame-too-large`. */
  readonly frameBytes: number | undefined;

  /**
   * @param kind what was wrong.
   * @param message a sentence naming the limit or the defect.
   * @param frameBytes the declared frame size, when known.
   */
  constructor(kind: FrameErrorKind, message: string, frameBytes?: number) {
    super(message);
    this.name = "FrameError";
    this.kind = kind;
    this.frameBytes = frameBytes;
  }
}

/** The error for a frame of `frameBytes` (prefix included) over `maxFrameBytes`. */
export function frameTooLarge(frameBytes: number, maxFrameBytes: number): FrameError {
  return new FrameError("frame-too-large", `frame of ${frameBytes} bytes exceeds the limit of ${maxFrameBytes} bytes (maxFrameBytes)`, frameBytes);
}
