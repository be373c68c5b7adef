/**
 * How frames are delimited on a byte stream: a length prefix, then the body.
 * The encoding of a service chooses it (protobuf envelopes use a varint,
 * MessagePack envelopes a MessagePack uint32); the frame decoder, the links
 * and their limits work the same over any framing.
 */
import type { PrefixRead } from "./varint-prefix.js";
import { readLengthPrefix, varintSize, writeVarint } from "./varint-prefix.js";

/** A length-prefix framing: how to read and write the prefix of a frame. */
export interface Framing {
  /** A name for error messages ("varint", "MessagePack uint32"). */
  readonly name: string;
  /** The longest prefix this framing writes or reads. */
  readonly maxPrefixBytes: number;
  /**
   * Reads the prefix at `offset` (bytes up to `end`): the body's length and
   * the prefix's size, "incomplete" when more bytes are needed, or
   * "malformed". Lengths it cannot represent exactly are reported as
   * `Number.MAX_SAFE_INTEGER` (any frame limit refuses them).
   */
  readPrefix(bytes: Uint8Array, offset: number, end: number): PrefixRead;
  /** The size of the prefix written for a body of `length` bytes. */
  prefixSize(length: number): number;
  /** Writes the prefix of a body of `length` bytes at `offset`; returns the offset after it. */
  writePrefix(length: number, target: Uint8Array, offset: number): number;
}

/** The protobuf framing: a minimal unsigned LEB128 varint of the body's length (docs/decisions.md, "Wire and ids"). */
export const varintFraming: Framing = {
  name: "varint",
  maxPrefixBytes: 10,
  readPrefix: readLengthPrefix,
  prefixSize: varintSize,
  writePrefix: writeVarint,
};
