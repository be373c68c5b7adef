import { frameTooLarge } from "./frame-error.js";
import { varintFraming, type Framing } from "./framing.js";

/**
 * Frames one message body: the framing's length prefix (by default a
 * minimal varint) followed by the body, in one new buffer. Throws a
 * FrameError (and returns nothing to write) when the frame, prefix included,
 * would exceed `maxFrameBytes`.
 */
export function encodeFrame(body: Uint8Array, maxFrameBytes: number, framing: Framing = varintFraming): Uint8Array {
  const prefixBytes = framing.prefixSize(body.byteLength);
  const frameBytes = prefixBytes + body.byteLength;
  if (frameBytes > maxFrameBytes) {
    throw frameTooLarge(frameBytes, maxFrameBytes);
  }
  const frame = new Uint8Array(frameBytes);
  framing.writePrefix(body.byteLength, frame, 0);
  frame.set(body, prefixBytes);
  return frame;
}
