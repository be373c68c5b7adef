import { frameTooLarge } from "./frame-error.js";
import { varintSize, writeVarint } from "./varint-prefix.js";

/**
 * Frames one message body: minimal varint(length) followed by the body, in
 * one new buffer. Throws a FrameError (and returns nothing to write) when
 * the frame, prefix included, would exceed `maxFrameBytes`.
 */
export function encodeFrame(body: Uint8Array, maxFrameBytes: number): Uint8Array {
  const prefixBytes = varintSize(body.byteLength);
  const frameBytes = prefixBytes + body.byteLength;
  if (frameBytes > maxFrameBytes) {
    throw frameTooLarge(frameBytes, maxFrameBytes);
  }
  const frame = new Uint8Array(frameBytes);
  writeVarint(body.byteLength, frame, 0);
  frame.set(body, prefixBytes);
  return frame;
}
