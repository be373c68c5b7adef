/**
 * The frame length prefix: an unsigned LEB128 varint.
 *
 * We read it ourselves rather than with `sizeDelimitedPeek` from
 * `@bufbuild/protobuf/wire` because that helper reads the size with
 * `BinaryReader.uint32()`, which silently truncates lengths of 2^32 and more
 * (a hostile 10-byte prefix would be taken for a small frame), and allocates
 * a reader per frame. For writing, `BinaryWriter` needs a writer and a copy
 * per frame; the loop below writes into the frame's own buffer.
 */

import { MAX_VARINT_BYTES } from "./limits.js";

/** Outcome of reading a prefix: the length and the prefix size, "incomplete", or a malformed prefix. */
export type PrefixRead =
  | { readonly kind: "ok"; readonly length: number; readonly prefixBytes: number }
  | { readonly kind: "incomplete" }
  | { readonly kind: "malformed"; readonly reason: string };

const INCOMPLETE: PrefixRead = { kind: "incomplete" };

/**
 * Reads a varint length at `offset`. Lengths above `Number.MAX_SAFE_INTEGER`
 * are reported as that value (any frame limit rejects them). A varint longer
 * than 10 bytes, or a 10th byte above 1 (more than 64 bits), is malformed.
 */
export function readLengthPrefix(bytes: Uint8Array, offset: number, end: number): PrefixRead {
  let length = 0;
  let multiplier = 1;
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    const pos = offset + i;
    if (pos >= end) {
      return INCOMPLETE;
    }
    const b = bytes[pos] as number;
    if (i === MAX_VARINT_BYTES - 1 && b > 1) {
      return {
        kind: "malformed",
        reason: (b & 0x80) !== 0 ? "varint length prefix longer than 10 bytes" : "varint length prefix overflows 64 bits",
      };
    }
    length += (b & 0x7f) * multiplier;
    if ((b & 0x80) === 0) {
      return { kind: "ok", length: Math.min(length, Number.MAX_SAFE_INTEGER), prefixBytes: i + 1 };
    }
    multiplier *= 128;
  }
  return { kind: "malformed", reason: "varint length prefix longer than 10 bytes" };
}

/** The size of the minimal varint encoding of `value` (0 ≤ value < 2^53). */
export function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

/** Writes the minimal varint of `value` at `offset`; returns the offset after it. */
export function writeVarint(value: number, target: Uint8Array, offset: number): number {
  while (value >= 0x80) {
    target[offset++] = (value & 0x7f) | 0x80;
    value = Math.floor(value / 128);
  }
  target[offset++] = value;
  return offset;
}
