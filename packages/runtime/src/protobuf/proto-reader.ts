/**
 * The reader compiled decoders read with. It accepts only well-formed input:
 * every value must end inside the message it belongs to, tags must be valid,
 * varints at most ten bytes. Anything else throws {@link FALLBACK}, and the
 * caller decodes the whole input again with `fromBinary`, which then either
 * throws its own error or returns what it makes of the input — so the result
 * is always exactly `fromBinary`'s. Values are computed the way protobuf-es's
 * BinaryReader computes them (an int32 is the low 32 bits of the varint, a
 * bool is true when any of its 64 bits is set).
 */

/** Thrown by the reader and the compiled decoders: "decode this input with fromBinary instead". */
export const FALLBACK: unique symbol = Symbol("protobuf decode fallback");

const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
const f32 = new Float32Array(1);
const f32Bytes = new Uint8Array(f32.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const view = new DataView(new ArrayBuffer(8));
const strictDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const looseDecoder = new TextDecoder("utf-8", { ignoreBOM: true });
/** Strings up to this many bytes are tried as ASCII first, byte by byte. */
const ASCII_LOOP_MAX = 64;

/** Throws {@link FALLBACK}; typed `never` so callers can write `return fallback()`. */
export function fallback(): never {
  throw FALLBACK;
}

/** A position in a byte array and the end of the message being read. */
export class ProtoReader {
  /** Low and high words of the last {@link varint64}. */
  lo = 0;
  hi = 0;

  constructor(
    /** The input. */
    public buf: Uint8Array,
    /** The next byte to read. */
    public pos: number,
    /** The end of the message being read: nothing at or after it belongs to it. */
    public end: number,
  ) {}

  /** Points the reader at `buf[start, end)`. */
  reset(buf: Uint8Array, start: number, end: number): void {
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }

  /** A tag (field number × 8 + wire type) with a field number ≥ 1 and a wire type ≤ 5. */
  tag(): number {
    const buf = this.buf;
    let p = this.pos;
    if (p >= this.end) fallback();
    let b = buf[p++] as number;
    if (b < 0x80) {
      this.pos = p;
      if (b < 8 || (b & 7) > 5) fallback();
      return b;
    }
    let v = b & 0x7f;
    for (let shift = 7; ; shift += 7) {
      if (p >= this.end || shift > 28) fallback();
      b = buf[p++] as number;
      if (shift === 28 && b > 0x0f) fallback();
      v |= (b & 0x7f) << shift;
      if (b < 0x80) break;
    }
    v >>>= 0;
    this.pos = p;
    if (v < 8 || (v & 7) > 5) fallback();
    return v;
  }

  /** A varint's low 32 bits, unsigned (BinaryReader.uint32). */
  uint32(): number {
    const buf = this.buf;
    let p = this.pos;
    const end = this.end;
    if (p >= end) fallback();
    let b = buf[p++] as number;
    if (b < 0x80) {
      this.pos = p;
      return b;
    }
    let v = b & 0x7f;
    for (let shift = 7; shift < 35; shift += 7) {
      if (p >= end) fallback();
      b = buf[p++] as number;
      v |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = p;
        return v >>> 0;
      }
    }
    // Bytes 6 to 10 carry bits above 32: skipped.
    for (let n = 5; n < 10; n++) {
      if (p >= end) fallback();
      if ((buf[p++] as number) < 0x80) {
        this.pos = p;
        return v >>> 0;
      }
    }
    return fallback();
  }

  int32(): number {
    return this.uint32() | 0;
  }

  sint32(): number {
    const z = this.uint32();
    return (z >>> 1) ^ -(z & 1);
  }

  /** A length followed by that many bytes inside the message; returns the length. */
  length(): number {
    const len = this.uint32();
    if (len > this.end - this.pos) fallback();
    return len;
  }

  /** Reads a varint into {@link lo}/{@link hi} (BinaryReader's varint64). */
  varint64(): void {
    const buf = this.buf;
    let p = this.pos;
    const end = this.end;
    let lo = 0;
    let hi = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      if (p >= end) fallback();
      const b = buf[p++] as number;
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = p;
        this.lo = lo;
        this.hi = 0;
        return;
      }
    }
    if (p >= end) fallback();
    const middle = buf[p++] as number;
    lo |= (middle & 0x0f) << 28;
    hi = (middle & 0x70) >> 4;
    if (middle < 0x80) {
      this.pos = p;
      this.lo = lo;
      this.hi = hi;
      return;
    }
    for (let shift = 3; shift <= 31; shift += 7) {
      if (p >= end) fallback();
      const b = buf[p++] as number;
      hi |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = p;
        this.lo = lo;
        this.hi = hi;
        return;
      }
    }
    fallback();
  }

  bool(): boolean {
    const p = this.pos;
    if (p < this.end) {
      const b = this.buf[p] as number;
      if (b < 0x80) {
        this.pos = p + 1;
        return b !== 0;
      }
    }
    this.varint64();
    return this.lo !== 0 || this.hi !== 0;
  }

  uint64(): bigint {
    this.varint64();
    return u64(this.lo, this.hi);
  }

  int64(): bigint {
    this.varint64();
    return i64(this.lo, this.hi);
  }

  sint64(): bigint {
    this.varint64();
    let lo = this.lo;
    let hi = this.hi;
    const s = -(lo & 1);
    lo = ((lo >>> 1) | ((hi & 1) << 31)) ^ s;
    hi = (hi >>> 1) ^ s;
    return i64(lo, hi);
  }

  uint64String(): string {
    this.varint64();
    return u64String(this.lo, this.hi);
  }

  int64String(): string {
    this.varint64();
    return i64String(this.lo, this.hi);
  }

  sint64String(): string {
    return String(this.sint64());
  }

  private need(n: number): number {
    const p = this.pos;
    if (n > this.end - p) fallback();
    this.pos = p + n;
    return p;
  }

  fixed32(): number {
    const p = this.need(4);
    const b = this.buf;
    return ((b[p] as number) | ((b[p + 1] as number) << 8) | ((b[p + 2] as number) << 16) | ((b[p + 3] as number) << 24)) >>> 0;
  }

  sfixed32(): number {
    return this.fixed32() | 0;
  }

  fixed64(): bigint {
    const lo = this.fixed32();
    return u64(lo, this.fixed32());
  }

  sfixed64(): bigint {
    const lo = this.fixed32();
    return i64(lo, this.fixed32());
  }

  fixed64String(): string {
    const lo = this.fixed32();
    return u64String(lo, this.fixed32());
  }

  sfixed64String(): string {
    const lo = this.fixed32();
    return i64String(lo, this.fixed32());
  }

  float(): number {
    const p = this.need(4);
    const b = this.buf;
    if (LITTLE_ENDIAN) {
      f32Bytes[0] = b[p] as number;
      f32Bytes[1] = b[p + 1] as number;
      f32Bytes[2] = b[p + 2] as number;
      f32Bytes[3] = b[p + 3] as number;
      return f32[0] as number;
    }
    for (let i = 0; i < 4; i++) view.setUint8(i, b[p + i] as number);
    return view.getFloat32(0, true);
  }

  double(): number {
    const p = this.need(8);
    const b = this.buf;
    if (LITTLE_ENDIAN) {
      for (let i = 0; i < 8; i++) f64Bytes[i] = b[p + i] as number;
      return f64[0] as number;
    }
    for (let i = 0; i < 8; i++) view.setUint8(i, b[p + i] as number);
    return view.getFloat64(0, true);
  }

  /** A length-delimited bytes value: a view into the input, as fromBinary returns it. */
  bytes(): Uint8Array {
    const len = this.length();
    const p = this.pos;
    this.pos = p + len;
    return this.buf.subarray(p, p + len);
  }

  /** A length-delimited string; invalid UTF-8 falls back when `strict` (fromBinary throws there). */
  string(strict: boolean): string {
    const len = this.length();
    const buf = this.buf;
    const start = this.pos;
    const end = start + len;
    this.pos = end;
    if (len <= ASCII_LOOP_MAX) {
      const s = ascii(buf, start, end);
      if (s !== undefined) return s;
    }
    if (!strict) return looseDecoder.decode(buf.subarray(start, end));
    try {
      return strictDecoder.decode(buf.subarray(start, end));
    } catch {
      return fallback();
    }
  }

  /**
   * Skips the value of an unknown field. A group is skipped up to its end
   * tag, nested at most `budget` deep (BinaryReader.skip's recursion budget).
   */
  skip(wireType: number, no: number, budget: number): void {
    switch (wireType) {
      case 0:
        this.varint64();
        return;
      case 1:
        this.need(8);
        return;
      case 2: {
        const len = this.length();
        this.pos += len;
        return;
      }
      case 3:
        this.skipGroup(no, budget);
        return;
      case 5:
        this.need(4);
        return;
      default:
        fallback();
    }
  }

  /** Skips a group's content and its end tag (which must carry `no`); returns where the end tag begins. */
  skipGroup(no: number, budget: number): number {
    if (budget <= 0) fallback();
    for (;;) {
      const at = this.pos;
      const t = this.tag();
      const wireType = t & 7;
      if (wireType === 4) {
        if (t >>> 3 !== no) fallback();
        return at;
      }
      this.skip(wireType, t >>> 3, budget - 1);
    }
  }
}

/** The bytes as a string when they are all ASCII (eight, then four, then one at a time: measured fastest). */
function ascii(b: Uint8Array, start: number, end: number): string | undefined {
  let s = "";
  let i = start;
  for (; i + 8 <= end; i += 8) {
    const c0 = b[i] as number;
    const c1 = b[i + 1] as number;
    const c2 = b[i + 2] as number;
    const c3 = b[i + 3] as number;
    const c4 = b[i + 4] as number;
    const c5 = b[i + 5] as number;
    const c6 = b[i + 6] as number;
    const c7 = b[i + 7] as number;
    if ((c0 | c1 | c2 | c3 | c4 | c5 | c6 | c7) > 0x7f) return undefined;
    s += String.fromCharCode(c0, c1, c2, c3, c4, c5, c6, c7);
  }
  for (; i + 4 <= end; i += 4) {
    const c0 = b[i] as number;
    const c1 = b[i + 1] as number;
    const c2 = b[i + 2] as number;
    const c3 = b[i + 3] as number;
    if ((c0 | c1 | c2 | c3) > 0x7f) return undefined;
    s += String.fromCharCode(c0, c1, c2, c3);
  }
  for (; i < end; i++) {
    const c = b[i] as number;
    if (c > 0x7f) return undefined;
    s += String.fromCharCode(c);
  }
  return s;
}

const TWO_32 = 4294967296;

function u64(lo: number, hi: number): bigint {
  hi >>>= 0;
  if (hi < 0x20_0000) return BigInt(hi * TWO_32 + (lo >>> 0));
  view.setInt32(0, lo, true);
  view.setInt32(4, hi, true);
  return view.getBigUint64(0, true);
}

function i64(lo: number, hi: number): bigint {
  hi |= 0;
  if (hi >= -0x20_0000 && hi < 0x20_0000) return BigInt(hi * TWO_32 + (lo >>> 0));
  view.setInt32(0, lo, true);
  view.setInt32(4, hi, true);
  return view.getBigInt64(0, true);
}

function u64String(lo: number, hi: number): string {
  hi >>>= 0;
  if (hi < 0x20_0000) return String(hi * TWO_32 + (lo >>> 0));
  return String(u64(lo, hi));
}

function i64String(lo: number, hi: number): string {
  hi |= 0;
  if (hi >= -0x20_0000 && hi < 0x20_0000) return String(hi * TWO_32 + (lo >>> 0));
  return String(i64(lo, hi));
}
