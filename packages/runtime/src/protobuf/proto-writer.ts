/**
 * The byte buffer compiled encoders write into: one reused scratch buffer
 * instead of a writer, a growing buffer and a final copy per message (what
 * `toBinary` costs). Lengths of nested messages are back-patched: one byte
 * is reserved, and the content is moved when the length needs more.
 *
 * A large `bytes` value (at least `tailMinBytes`) written last can stay out
 * of the buffer: it becomes the {@link ProtoWriter.tail}, the bytes that
 * follow `buf[0, tailAt)` and are handed to the socket as they are. Any
 * write after it copies it in first, so the bytes are always those of one
 * contiguous encoding.
 */

const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
const f32 = new Float32Array(1);
const f32Bytes = new Uint8Array(f32.buffer);
const scratchView = new DataView(new ArrayBuffer(8));
/** True on little-endian hosts (all we know of); the float writers copy the bytes of a typed array. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const SAFE_N = 0x1f_ffff_ffff_ffffn;
const encoder = new TextEncoder();
/** Strings up to this many UTF-16 units are tried as ASCII first, byte by byte. */
const ASCII_LOOP_MAX = 64;

/** The size of the minimal varint of `value` (0 ≤ value < 2^32). */
function varint32Size(value: number): number {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x20_0000 ? 3 : value < 0x1000_0000 ? 4 : 5;
}

/** A reusable buffer that compiled encoders write protobuf bytes into. */
export class ProtoWriter {
  /** The bytes written so far are `buf[0, pos)` (with the tail, `buf[0, tailAt)` then `tail`). */
  buf: Uint8Array;
  /** The next write position (it counts the tail's bytes when there is one). */
  pos = 0;
  /** A large bytes value left out of `buf`, see the class comment. */
  tail: Uint8Array | undefined = undefined;
  /** Where the tail's bytes begin. */
  tailAt = 0;
  /** Bytes values at least this long may become the tail; 0 = never. */
  tailMinBytes = 0;
  /** Writes beyond this position go through {@link grow} (it is -1 while there is a tail). */
  private limit: number;

  constructor(initialBytes = 1024) {
    this.buf = new Uint8Array(initialBytes);
    this.limit = initialBytes;
  }

  /** Starts over at `pos` (no tail). */
  reset(pos: number): void {
    this.pos = pos;
    this.tail = undefined;
    this.limit = this.buf.length;
  }

  /** Drops what was written from `pos` on (a tail written before `pos` is copied in). */
  rewind(pos: number): void {
    if (this.tail !== undefined) {
      if (this.tailAt >= pos) {
        this.tail = undefined;
        this.limit = this.buf.length;
      } else {
        this.materialize();
      }
    }
    this.pos = pos;
  }

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    if (this.pos + n > this.limit) this.grow(n);
  }

  private grow(n: number): void {
    if (this.tail !== undefined) this.materialize();
    if (this.pos + n > this.buf.length) {
      let size = this.buf.length * 2;
      while (size < this.pos + n) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.buf.subarray(0, this.pos));
      this.buf = next;
    }
    this.limit = this.buf.length;
  }

  /** Copies the tail into the buffer: the bytes become one contiguous run. */
  materialize(): void {
    const tail = this.tail;
    if (tail === undefined) return;
    this.tail = undefined;
    const end = this.tailAt + tail.length;
    if (end > this.buf.length) {
      let size = this.buf.length * 2;
      while (size < end) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.buf.subarray(0, this.tailAt));
      this.buf = next;
    }
    this.buf.set(tail, this.tailAt);
    this.limit = this.buf.length;
  }

  /** One byte (a one-byte tag, or a bool). */
  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** A varint of 0 ≤ v < 2^32 (tags, lengths, uint32). */
  uint32(v: number): void {
    this.ensure(5);
    const buf = this.buf;
    let p = this.pos;
    while (v > 0x7f) {
      buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[p++] = v;
    this.pos = p;
  }

  /** An int32 varint: negative values take ten bytes (sign-extended to 64 bits). */
  int32(v: number): void {
    if (v >= 0) {
      this.uint32(v);
      return;
    }
    this.ensure(10);
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < 9; i++) {
      buf[p++] = (v & 0x7f) | 0x80;
      v >>= 7;
    }
    buf[p++] = 1;
    this.pos = p;
  }

  /** A zigzag varint of an int32. */
  sint32(v: number): void {
    this.uint32(((v << 1) ^ (v >> 31)) >>> 0);
  }

  /** A varint of 0 ≤ v ≤ 2^53 − 1. */
  varintNumber(v: number): void {
    this.ensure(8);
    const buf = this.buf;
    let p = this.pos;
    while (v > 0x7fff_ffff) {
      buf[p++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    while (v > 0x7f) {
      buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[p++] = v;
    this.pos = p;
  }

  /** A varint of the 64-bit two's complement `hi:lo` (protobuf-es's writeVarint64). */
  varint64(lo: number, hi: number): void {
    this.ensure(10);
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < 28; i += 7) {
      const shift = lo >>> i;
      const more = !(shift >>> 7 === 0 && hi === 0);
      buf[p++] = (more ? shift | 0x80 : shift) & 0xff;
      if (!more) {
        this.pos = p;
        return;
      }
    }
    const split = ((lo >>> 28) & 0x0f) | ((hi & 0x07) << 4);
    const moreHi = !(hi >> 3 === 0);
    buf[p++] = (moreHi ? split | 0x80 : split) & 0xff;
    if (!moreHi) {
      this.pos = p;
      return;
    }
    for (let i = 3; i < 31; i += 7) {
      const shift = hi >>> i;
      const more = !(shift >>> 7 === 0);
      buf[p++] = (more ? shift | 0x80 : shift) & 0xff;
      if (!more) {
        this.pos = p;
        return;
      }
    }
    buf[p++] = (hi >>> 31) & 0x01;
    this.pos = p;
  }

  /** A uint64 varint; the caller checked 0 ≤ v < 2^64. */
  uint64(v: bigint): void {
    if (v <= SAFE_N) {
      this.varintNumber(Number(v));
      return;
    }
    scratchView.setBigUint64(0, v, true);
    this.varint64(scratchView.getInt32(0, true), scratchView.getInt32(4, true));
  }

  /** An int64 varint; the caller checked −2^63 ≤ v < 2^63. */
  int64(v: bigint): void {
    if (v >= 0n && v <= SAFE_N) {
      this.varintNumber(Number(v));
      return;
    }
    scratchView.setBigInt64(0, v, true);
    this.varint64(scratchView.getInt32(0, true), scratchView.getInt32(4, true));
  }

  /** A zigzag varint of an int64; the caller checked the range. */
  sint64(v: bigint): void {
    if (v >= -SAFE_N / 2n && v <= SAFE_N / 2n) {
      const n = Number(v);
      this.varintNumber(n >= 0 ? n * 2 : -n * 2 - 1);
      return;
    }
    scratchView.setBigInt64(0, v, true);
    const lo = scratchView.getInt32(0, true);
    const hi = scratchView.getInt32(4, true);
    const sign = hi >> 31;
    this.varint64((lo << 1) ^ sign, ((hi << 1) | (lo >>> 31)) ^ sign);
  }

  /** Four little-endian bytes of the low 32 bits of `v`. */
  fixed32(v: number): void {
    this.ensure(4);
    const buf = this.buf;
    const p = this.pos;
    buf[p] = v;
    buf[p + 1] = v >>> 8;
    buf[p + 2] = v >>> 16;
    buf[p + 3] = v >>> 24;
    this.pos = p + 4;
  }

  /** Eight little-endian bytes of a 64-bit integer (two's complement); the caller checked the range. */
  fixed64(v: bigint): void {
    if (v >= 0n && v <= 0xffff_ffffn) {
      this.fixed32(Number(v));
      this.fixed32(0);
      return;
    }
    scratchView.setBigUint64(0, BigInt.asUintN(64, v), true);
    this.fixed32(scratchView.getUint32(0, true));
    this.fixed32(scratchView.getUint32(4, true));
  }

  float(v: number): void {
    this.ensure(4);
    const buf = this.buf;
    const p = this.pos;
    if (LITTLE_ENDIAN && !Number.isNaN(v)) {
      f32[0] = v;
      buf[p] = f32Bytes[0] as number;
      buf[p + 1] = f32Bytes[1] as number;
      buf[p + 2] = f32Bytes[2] as number;
      buf[p + 3] = f32Bytes[3] as number;
    } else {
      scratchView.setFloat32(0, v, true);
      for (let i = 0; i < 4; i++) buf[p + i] = scratchView.getUint8(i);
    }
    this.pos = p + 4;
  }

  double(v: number): void {
    this.ensure(8);
    const buf = this.buf;
    const p = this.pos;
    if (LITTLE_ENDIAN && !Number.isNaN(v)) {
      f64[0] = v;
      for (let i = 0; i < 8; i++) buf[p + i] = f64Bytes[i] as number;
    } else {
      scratchView.setFloat64(0, v, true);
      for (let i = 0; i < 8; i++) buf[p + i] = scratchView.getUint8(i);
    }
    this.pos = p + 8;
  }

  /** A length-delimited bytes value; a large one may become the tail. */
  bytes(v: Uint8Array): void {
    const n = v.length;
    this.uint32(n);
    if (this.tailMinBytes > 0 && n >= this.tailMinBytes && this.tail === undefined) {
      this.tail = v;
      this.tailAt = this.pos;
      this.pos += n;
      this.limit = -1;
      return;
    }
    this.ensure(n);
    this.buf.set(v, this.pos);
    this.pos += n;
  }

  /** Raw bytes (an unknown field's data). */
  raw(v: Uint8Array): void {
    this.ensure(v.length);
    this.buf.set(v, this.pos);
    this.pos += v.length;
  }

  /** A length-delimited UTF-8 string (lone surrogates become U+FFFD, as TextEncoder writes them). */
  string(v: string): void {
    const n = v.length;
    if (n <= ASCII_LOOP_MAX) {
      this.ensure(n + 1);
      const buf = this.buf;
      let p = this.pos + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = v.charCodeAt(i);
        if (c > 0x7f) break;
        buf[p++] = c;
      }
      if (i === n) {
        buf[this.pos] = n;
        this.pos = p;
        return;
      }
    }
    const max = n * 3;
    const room = varint32Size(max);
    this.ensure(room + max);
    const start = this.pos + room;
    const buf = this.buf;
    const written = encoder.encodeInto(v, buf.subarray(start, start + max)).written;
    // The length goes before the text; both fit in the room reserved above.
    let p = this.pos;
    let len = written;
    while (len > 0x7f) {
      buf[p++] = (len & 0x7f) | 0x80;
      len >>>= 7;
    }
    buf[p++] = len;
    if (p !== start) buf.copyWithin(p, start, start + written);
    this.pos = p + written;
  }

  /** Reserves one byte for a length; returns where it is, for {@link join}. */
  fork(): number {
    this.ensure(1);
    return this.pos++;
  }

  /** Writes the length of what follows the byte reserved at `at`, moving it when the length takes more bytes. */
  join(at: number): void {
    const len = this.pos - at - 1;
    if (len < 0x80) {
      this.buf[at] = len;
      return;
    }
    const size = varint32Size(len);
    const extra = size - 1;
    const realEnd = this.tail !== undefined ? this.tailAt : this.pos;
    if (realEnd + extra > this.buf.length) {
      const keepTail = this.tail;
      const pos = this.pos;
      this.tail = undefined;
      this.pos = realEnd;
      this.grow(extra);
      this.tail = keepTail;
      this.pos = pos;
      if (keepTail !== undefined) this.limit = -1;
    }
    const buf = this.buf;
    buf.copyWithin(at + size, at + 1, realEnd);
    if (this.tail !== undefined) this.tailAt += extra;
    this.pos += extra;
    let p = at;
    let v = len;
    while (v > 0x7f) {
      buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[p] = v;
  }

  /** The bytes written since `start` as one new array. */
  copy(start: number): Uint8Array {
    this.materialize();
    return this.buf.slice(start, this.pos);
  }
}
