/**
 * The framing of the Rust protosocket-messagepack crate: every frame starts
 * with a MessagePack uint32 (the marker 0xce, then 4 big-endian bytes)
 * holding the body's length; the body is one MessagePack value. The Rust
 * decoder accepts no other integer form (`rmp::decode::read_u32`), so neither
 * do we; docs/decisions.md records the crate's rules.
 */
import type { Framing } from "./framing.js";
import type { PrefixRead } from "./varint-prefix.js";

/** The MessagePack marker of a uint32. */
const U32_MARKER = 0xce;
const PREFIX_BYTES = 5;
const INCOMPLETE: PrefixRead = { kind: "incomplete" };

/** Reads a MessagePack uint32 length prefix. */
function readU32Prefix(bytes: Uint8Array, offset: number, end: number): PrefixRead {
  if (offset < end && bytes[offset] !== U32_MARKER) {
    const marker = (bytes[offset] as number).toString(16).padStart(2, "0");
    return { kind: "malformed", reason: `MessagePack length prefix must be a uint32 (marker 0xce), got marker 0x${marker}` };
  }
  if (end - offset < PREFIX_BYTES) return INCOMPLETE;
  const length =
    (bytes[offset + 1] as number) * 0x1000000 +
    (((bytes[offset + 2] as number) << 16) | ((bytes[offset + 3] as number) << 8) | (bytes[offset + 4] as number));
  return { kind: "ok", length, prefixBytes: PREFIX_BYTES };
}

/** Writes the 5-byte MessagePack uint32 prefix of a body of `length` bytes (below 2^32). */
function writeU32Prefix(length: number, target: Uint8Array, offset: number): number {
  target[offset] = U32_MARKER;
  target[offset + 1] = (length >>> 24) & 0xff;
  target[offset + 2] = (length >>> 16) & 0xff;
  target[offset + 3] = (length >>> 8) & 0xff;
  target[offset + 4] = length & 0xff;
  return offset + PREFIX_BYTES;
}

/**
 * The framing of protosocket-messagepack: a 5-byte MessagePack uint32
 * length, then the body. A frame limit must stay below 2^32 + 5 bytes (the
 * runtime's options cap it at 2^32).
 */
export const messagePackFraming: Framing = {
  name: "MessagePack uint32",
  maxPrefixBytes: PREFIX_BYTES,
  readPrefix: readU32Prefix,
  prefixSize: () => PREFIX_BYTES,
  writePrefix: writeU32Prefix,
};
