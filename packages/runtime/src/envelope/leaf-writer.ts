/**
 * Compiled writers for simple case messages: proto3 messages whose fields are
 * all implicit-presence int32, uint32, bool, string, bytes or enum scalars
 * (the shape of most request and response messages). They write the message
 * straight into a reused scratch buffer, where `toBinary` allocates a writer,
 * a 128-byte buffer and a final copy for every message (measured: 13 % of a
 * streaming server's CPU). Anything else — another field type, unknown
 * fields, a value toBinary would reject — makes the writer decline, and the
 * caller uses `toBinary`, so results and errors stay protobuf-es's. Property
 * tests check the bytes are toBinary's.
 */
import { ScalarType, type DescField, type DescMessage, type Message } from "@bufbuild/protobuf";
import { FeatureSet_FieldPresence } from "@bufbuild/protobuf/wkt";
import { varintSize, writeVarint } from "../wire/varint-prefix.js";

/** Scratch space a leaf writer writes into; grown as needed, reused across messages. */
export interface Scratch {
  buf: Uint8Array;
  pos: number;
}

/** Writes `message` at `scratch.pos`; returns false (having written garbage) when it declines. */
export type LeafWriter = (message: Message, scratch: Scratch) => boolean;

type FieldWrite = (value: unknown, scratch: Scratch) => boolean;

const encoder = new TextEncoder();

function ensure(s: Scratch, bytes: number): void {
  if (s.pos + bytes > s.buf.length) {
    const grown = new Uint8Array(Math.max(s.buf.length * 2, s.pos + bytes, 256));
    grown.set(s.buf.subarray(0, s.pos));
    s.buf = grown;
  }
}

function tagOf(field: DescField, wireType: number): Uint8Array {
  const value = field.number * 8 + wireType;
  const out = new Uint8Array(varintSize(value));
  writeVarint(value, out, 0);
  return out;
}

function putTag(s: Scratch, tag: Uint8Array): void {
  s.buf.set(tag, s.pos);
  s.pos += tag.length;
}

/** A negative int32 is a 10-byte varint of its 64-bit two's complement. */
function putNegativeInt32(s: Scratch, v: number): void {
  let lo = v >>> 0;
  for (let i = 0; i < 4; i++) {
    s.buf[s.pos++] = (lo & 0x7f) | 0x80;
    lo >>>= 7;
  }
  // Bits 28..31 of the low word, then the high word of all ones.
  s.buf[s.pos++] = (lo & 0x0f) | 0x70 | 0x80;
  for (let i = 0; i < 4; i++) s.buf[s.pos++] = 0xff;
  s.buf[s.pos++] = 0x01;
}

function fieldWrite(field: DescField): FieldWrite | undefined {
  if (field.oneof !== undefined || field.presence !== FeatureSet_FieldPresence.IMPLICIT) return undefined;
  let kind: ScalarType;
  if (field.fieldKind === "enum") kind = ScalarType.INT32;
  else if (field.fieldKind === "scalar") kind = field.scalar;
  else return undefined;
  switch (kind) {
    case ScalarType.INT32: {
      const tag = tagOf(field, 0);
      return (v, s) => {
        if (typeof v !== "number" || !Number.isInteger(v) || v > 0x7fffffff || v < -0x80000000) return false;
        if (v === 0) return true;
        ensure(s, tag.length + 10);
        putTag(s, tag);
        if (v < 0) putNegativeInt32(s, v);
        else s.pos = writeVarint(v, s.buf, s.pos);
        return true;
      };
    }
    case ScalarType.UINT32: {
      const tag = tagOf(field, 0);
      return (v, s) => {
        if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 0xffffffff) return false;
        if (v === 0) return true;
        ensure(s, tag.length + 5);
        putTag(s, tag);
        s.pos = writeVarint(v, s.buf, s.pos);
        return true;
      };
    }
    case ScalarType.BOOL: {
      const tag = tagOf(field, 0);
      return (v, s) => {
        if (typeof v !== "boolean") return false;
        if (!v) return true;
        ensure(s, tag.length + 1);
        putTag(s, tag);
        s.buf[s.pos++] = 1;
        return true;
      };
    }
    case ScalarType.BYTES: {
      const tag = tagOf(field, 2);
      return (v, s) => {
        if (!(v instanceof Uint8Array)) return false;
        if (v.length === 0) return true;
        ensure(s, tag.length + 5 + v.length);
        putTag(s, tag);
        s.pos = writeVarint(v.length, s.buf, s.pos);
        s.buf.set(v, s.pos);
        s.pos += v.length;
        return true;
      };
    }
    case ScalarType.STRING: {
      const tag = tagOf(field, 2);
      return (v, s) => {
        if (typeof v !== "string") return false;
        if (v.length === 0) return true;
        const max = v.length * 3;
        ensure(s, tag.length + 5 + max);
        putTag(s, tag);
        // Encode after room for the longest length varint, then close the gap.
        const room = varintSize(max);
        const start = s.pos + room;
        const { written } = encoder.encodeInto(v, s.buf.subarray(start, start + max));
        const size = varintSize(written);
        s.pos = writeVarint(written, s.buf, s.pos);
        if (size !== room) s.buf.copyWithin(s.pos, start, start + written);
        s.pos += written;
        return true;
      };
    }
    default:
      return undefined;
  }
}

const compiled = new WeakMap<DescMessage, LeafWriter | null>();

/** The compiled writer of a message type, or undefined when its fields are not all supported. */
export function leafWriterOf(desc: DescMessage): LeafWriter | undefined {
  let w = compiled.get(desc);
  if (w === undefined) {
    w = compile(desc);
    compiled.set(desc, w);
  }
  return w ?? undefined;
}

function compile(desc: DescMessage): LeafWriter | null {
  const fields = desc.fields.concat().sort((a, b) => a.number - b.number);
  const writes: { key: string; write: FieldWrite }[] = [];
  for (const f of fields) {
    const write = fieldWrite(f);
    if (write === undefined) return null;
    writes.push({ key: f.localName, write });
  }
  const typeName = desc.typeName;
  return (message, scratch) => {
    const m = message as unknown as Record<string, unknown>;
    if (m["$typeName"] !== typeName) return false;
    const unknown = m["$unknown"] as unknown[] | undefined;
    if (unknown !== undefined && unknown.length > 0) return false;
    for (let i = 0; i < writes.length; i++) {
      const w = writes[i] as { key: string; write: FieldWrite };
      if (!w.write(m[w.key], scratch)) return false;
    }
    return true;
  };
}
