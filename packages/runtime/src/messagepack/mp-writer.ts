/**
 * Writing MessagePack as rmp (the Rust crate rmp_serde writes with) writes
 * it: integers in their smallest form, an f64 always as float 64 (so −0.0
 * keeps its sign), strings as str (str 8 included), bytes as bin, and maps
 * with keys of any type — a `Map` keeps its keys as they are (integers stay
 * integers), a plain object's keys are strings.
 */

/** A number the writer writes as float 64 whatever its value (an `f64`). */
export class Float64 {
  /** @param value the number. */
  constructor(readonly value: number) {}
}

const textEncoder = new TextEncoder();
/** A buffer grown past this for one large value is dropped afterwards. */
const KEEP_BYTES = 1024 * 1024;

/**
 * Writes plain values (what schemas' `toWire` return) as MessagePack into
 * a buffer it reuses: nil for null and undefined, booleans, numbers
 * (integers within 64 bits as integers, the rest as float 64), bigints,
 * strings, Uint8Array as bin, arrays, Maps and plain objects as maps, and
 * {@link Float64}.
 */
export class MpWriter {
  private buf = new Uint8Array(4096);
  private view = new DataView(this.buf.buffer);
  private pos = 0;

  /** The bytes of `value`, as a new array. */
  encode(value: unknown): Uint8Array {
    this.pos = 0;
    this.write(value);
    const out = this.buf.slice(0, this.pos);
    this.shrink();
    return out;
  }

  /**
   * The bytes of `value` in the writer's own buffer, lent until the next
   * call: copy them before writing anything else.
   */
  encodeShared(value: unknown): Uint8Array {
    this.shrink();
    this.pos = 0;
    this.write(value);
    return this.buf.subarray(0, this.pos);
  }

  private shrink(): void {
    if (this.buf.length > KEEP_BYTES) {
      this.buf = new Uint8Array(4096);
      this.view = new DataView(this.buf.buffer);
    }
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  private byte(b: number): void {
    this.room(1);
    this.buf[this.pos++] = b;
  }

  private write(value: unknown): void {
    switch (typeof value) {
      case "number":
        if (Number.isInteger(value) && !Object.is(value, -0) && Number.isSafeInteger(value)) this.int(value);
        else this.f64(value);
        return;
      case "string":
        this.str(value);
        return;
      case "boolean":
        this.byte(value ? 0xc3 : 0xc2);
        return;
      case "bigint":
        this.bigint(value);
        return;
      case "undefined":
        this.byte(0xc0);
        return;
      case "object":
        break;
      default:
        throw new TypeError(`cannot write a ${typeof value} as MessagePack`);
    }
    if (value === null) {
      this.byte(0xc0);
    } else if (value instanceof Float64) {
      this.f64(value.value);
    } else if (value instanceof Uint8Array) {
      this.bin(value);
    } else if (Array.isArray(value)) {
      this.header(value.length, 0x90, 0xdc, 0xdd);
      for (const item of value) this.write(item);
    } else if (value instanceof Map) {
      this.header(value.size, 0x80, 0xde, 0xdf);
      for (const [k, v] of value) {
        this.write(k);
        this.write(v);
      }
    } else {
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record);
      this.header(keys.length, 0x80, 0xde, 0xdf);
      for (const k of keys) {
        this.str(k);
        this.write(record[k]);
      }
    }
  }

  /** An array or map header: the fix form below 16, then 16 and 32 bits. */
  private header(n: number, fix: number, b16: number, b32: number): void {
    this.room(5);
    if (n < 16) {
      this.buf[this.pos++] = fix + n;
    } else if (n < 0x10000) {
      this.buf[this.pos] = b16;
      this.view.setUint16(this.pos + 1, n);
      this.pos += 3;
    } else {
      this.buf[this.pos] = b32;
      this.view.setUint32(this.pos + 1, n);
      this.pos += 5;
    }
  }

  private int(v: number): void {
    this.room(9);
    const buf = this.buf;
    const view = this.view;
    const p = this.pos;
    if (v >= 0) {
      if (v < 0x80) {
        buf[p] = v;
        this.pos = p + 1;
      } else if (v < 0x100) {
        buf[p] = 0xcc;
        buf[p + 1] = v;
        this.pos = p + 2;
      } else if (v < 0x10000) {
        buf[p] = 0xcd;
        view.setUint16(p + 1, v);
        this.pos = p + 3;
      } else if (v < 0x1_0000_0000) {
        buf[p] = 0xce;
        view.setUint32(p + 1, v);
        this.pos = p + 5;
      } else {
        buf[p] = 0xcf;
        view.setBigUint64(p + 1, BigInt(v));
        this.pos = p + 9;
      }
    } else if (v >= -0x20) {
      buf[p] = v + 0x100;
      this.pos = p + 1;
    } else if (v >= -0x80) {
      buf[p] = 0xd0;
      view.setInt8(p + 1, v);
      this.pos = p + 2;
    } else if (v >= -0x8000) {
      buf[p] = 0xd1;
      view.setInt16(p + 1, v);
      this.pos = p + 3;
    } else if (v >= -0x8000_0000) {
      buf[p] = 0xd2;
      view.setInt32(p + 1, v);
      this.pos = p + 5;
    } else {
      buf[p] = 0xd3;
      view.setBigInt64(p + 1, BigInt(v));
      this.pos = p + 9;
    }
  }

  private bigint(v: bigint): void {
    if (v >= -0x8000_0000n && v <= 0xffff_ffffn) {
      this.int(Number(v));
      return;
    }
    if (v > 0xffff_ffff_ffff_ffffn || v < -(2n ** 63n)) throw new TypeError(`${v} does not fit in 64 bits`);
    this.room(9);
    if (v >= 0n) {
      this.buf[this.pos] = 0xcf;
      this.view.setBigUint64(this.pos + 1, v);
    } else {
      this.buf[this.pos] = 0xd3;
      this.view.setBigInt64(this.pos + 1, v);
    }
    this.pos += 9;
  }

  private f64(v: number): void {
    this.room(9);
    this.buf[this.pos] = 0xcb;
    this.view.setFloat64(this.pos + 1, v);
    this.pos += 9;
  }

  private str(s: string): void {
    // The header's size depends on the UTF-8 length: room for the longest, then write and fix up.
    const max = s.length * 3;
    this.room(max + 5);
    const headerBytes = max < 32 ? 1 : max < 0x100 ? 2 : max < 0x10000 ? 3 : 5;
    const start = this.pos + headerBytes;
    let n: number;
    if (s.length <= 32 && isAscii(s)) {
      n = s.length;
      for (let i = 0; i < n; i++) this.buf[start + i] = s.charCodeAt(i);
    } else {
      n = textEncoder.encodeInto(s, this.buf.subarray(start)).written;
    }
    const fit = n < 32 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
    if (fit !== headerBytes) this.buf.copyWithin(this.pos + fit, start, start + n);
    const p = this.pos;
    if (fit === 1) {
      this.buf[p] = 0xa0 + n;
    } else if (fit === 2) {
      this.buf[p] = 0xd9;
      this.buf[p + 1] = n;
    } else if (fit === 3) {
      this.buf[p] = 0xda;
      this.view.setUint16(p + 1, n);
    } else {
      this.buf[p] = 0xdb;
      this.view.setUint32(p + 1, n);
    }
    this.pos = p + fit + n;
  }

  private bin(b: Uint8Array): void {
    const n = b.byteLength;
    this.room(n + 5);
    const p = this.pos;
    if (n < 0x100) {
      this.buf[p] = 0xc4;
      this.buf[p + 1] = n;
      this.pos = p + 2;
    } else if (n < 0x10000) {
      this.buf[p] = 0xc5;
      this.view.setUint16(p + 1, n);
      this.pos = p + 3;
    } else {
      this.buf[p] = 0xc6;
      this.view.setUint32(p + 1, n);
      this.pos = p + 5;
    }
    this.buf.set(b, this.pos);
    this.pos += n;
  }
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
  return true;
}
