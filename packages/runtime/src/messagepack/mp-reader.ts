/**
 * Reading MessagePack from bytes, one value at a time, as the schemas ask
 * for them (schema.ts): each schema reads its own shape directly, so nothing
 * is built that the schema does not describe — a value of another shape
 * fails at its first byte, and values a schema does not look at (unknown
 * fields of a struct in map form, the body of a case nobody reads) are
 * skipped without being built. Arrays and maps nest at most
 * {@link MAX_DEPTH} deep, checked before a level is entered; a declared
 * length is checked against the bytes left before anything is read.
 *
 * Every failure is a TypeError: malformed bytes, a value that does not fit,
 * nesting too deep.
 */

/** How deep arrays and maps may nest in one frame (protobuf's recursion limit is the same). */
export const MAX_DEPTH = 100;

const textDecoder = new TextDecoder();

/** What the next value is, for messages ("an array of 3", "nil", "\"Echo\""). */
function describeAt(r: MpReader): string {
  const saved = r.pos;
  try {
    const b = r.buf[r.pos] as number;
    if (b === 0xc0) return "nil";
    if (b === 0xc2 || b === 0xc3) return `bool ${b === 0xc3}`;
    if (b <= 0x7f || b >= 0xe0 || (b >= 0xcc && b <= 0xd3)) return `integer ${String(r.int())}`;
    if (b === 0xca || b === 0xcb) return `float ${r.float()}`;
    if ((b >= 0xa0 && b <= 0xbf) || (b >= 0xd9 && b <= 0xdb)) {
      const s = r.str();
      return `"${s.length > 40 ? `${s.slice(0, 40)}…` : s}"`;
    }
    if (b >= 0xc4 && b <= 0xc6) return `${r.bin().byteLength} bytes`;
    if ((b >= 0x90 && b <= 0x9f) || b === 0xdc || b === 0xdd) return `an array of ${r.arrayHeader()}`;
    if ((b >= 0x80 && b <= 0x8f) || b === 0xde || b === 0xdf) return `a map of ${r.mapHeader()}`;
    return "an extension value";
  } catch {
    return "malformed bytes";
  } finally {
    r.pos = saved;
  }
}

/**
 * A position in MessagePack bytes. Reads advance it; a read that finds
 * another type of value throws a TypeError naming what it expected and what
 * it found, and leaves the position where it was.
 */
export class MpReader {
  /** The input. */
  buf: Uint8Array = new Uint8Array(0);
  /** The next byte to read. */
  pos = 0;
  /** The end of the input. */
  end = 0;
  /** Arrays and maps entered and not left. */
  depth = 0;
  private view: DataView = new DataView(this.buf.buffer);
  /** What is being read, for messages: a name, then field names and indices (built into a path only for an error). */
  private root = "";
  private readonly trail: (string | number)[] = [];

  /** Points the reader at `buf[start, end)`, reading what `root` names ("Request", "Request.body.Echo"). */
  reset(buf: Uint8Array, start = 0, end = buf.length, root = ""): this {
    if (buf !== this.buf) {
      this.buf = buf;
      this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    }
    this.pos = start;
    this.end = end;
    this.depth = 0;
    this.root = root;
    this.trail.length = 0;
    return this;
  }

  /** Descends into a field (a name) or an element (an index) for messages; undo with {@link pop}. */
  push(segment: string | number): void {
    this.trail.push(segment);
  }

  /** Undoes one {@link push}. */
  pop(): void {
    this.trail.pop();
  }

  /** Where the reader is, as a path: "Request.body.Echo.items[3].name". */
  where(): string {
    let out = this.root;
    for (const s of this.trail) out += typeof s === "number" ? `[${s}]` : out === "" ? s : `.${s}`;
    return out;
  }

  /** Forgets the input (so a shared reader does not keep a frame alive). */
  release(): void {
    this.reset(EMPTY);
  }

  /** The next byte, not consumed. */
  peek(): number {
    if (this.pos >= this.end) throw this.error("the value ends early (truncated MessagePack)");
    return this.buf[this.pos] as number;
  }

  private need(n: number): number {
    const at = this.pos;
    if (n > this.end - at) throw this.error("the value ends early (truncated MessagePack)");
    this.pos = at + n;
    return at;
  }

  /** The error for a value of another shape than `expected` at the current position. */
  mismatch(expected: string): TypeError {
    return new TypeError(`${this.where()}: expected ${expected}, got ${describeAt(this)}`);
  }

  /** A TypeError about the value being read, naming where it is. */
  error(message: string): TypeError {
    return new TypeError(`${this.where()}: ${message}`);
  }

  /** Consumes a nil and returns true, or returns false at any other value. */
  nil(): boolean {
    if (this.peek() !== 0xc0) return false;
    this.pos++;
    return true;
  }

  /** A bool, or undefined (nothing consumed) at another value. */
  bool(): boolean | undefined {
    const b = this.peek();
    if (b === 0xc2 || b === 0xc3) {
      this.pos++;
      return b === 0xc3;
    }
    return undefined;
  }

  /** True when the next value is an integer. */
  isInt(): boolean {
    const b = this.peek();
    return b <= 0x7f || b >= 0xe0 || (b >= 0xcc && b <= 0xd3);
  }

  /** An integer: a number, or a bigint for the 64-bit forms (as the library read them with useBigInt64). */
  int(): number | bigint {
    const b = this.peek();
    if (b <= 0x7f) {
      this.pos++;
      return b;
    }
    if (b >= 0xe0) {
      this.pos++;
      return b - 0x100;
    }
    const v = this.view;
    switch (b) {
      case 0xcc:
        return v.getUint8(this.need(2) + 1);
      case 0xcd:
        return v.getUint16(this.need(3) + 1);
      case 0xce:
        return v.getUint32(this.need(5) + 1);
      case 0xcf:
        return v.getBigUint64(this.need(9) + 1);
      case 0xd0:
        return v.getInt8(this.need(2) + 1);
      case 0xd1:
        return v.getInt16(this.need(3) + 1);
      case 0xd2:
        return v.getInt32(this.need(5) + 1);
      case 0xd3:
        return v.getBigInt64(this.need(9) + 1);
      default:
        throw this.mismatch("an integer");
    }
  }

  /** True when the next value is a float (32 or 64 bits). */
  isFloat(): boolean {
    const b = this.peek();
    return b === 0xca || b === 0xcb;
  }

  /** A float 32 or float 64. */
  float(): number {
    const b = this.peek();
    if (b === 0xcb) return this.view.getFloat64(this.need(9) + 1);
    if (b === 0xca) return this.view.getFloat32(this.need(5) + 1);
    throw this.mismatch("a float");
  }

  /** True when the next value is a string. */
  isStr(): boolean {
    const b = this.peek();
    return (b >= 0xa0 && b <= 0xbf) || (b >= 0xd9 && b <= 0xdb);
  }

  /** A map key that is a string, or undefined (the key skipped) for a key of another type. */
  stringKey(): string | undefined {
    if (this.isStr()) return this.str();
    this.skip();
    return undefined;
  }

  /** The byte length of the string that starts here, consuming its header; -1 (nothing consumed) at another value. */
  strHeader(): number {
    const b = this.peek();
    if (b >= 0xa0 && b <= 0xbf) {
      this.pos++;
      return b - 0xa0;
    }
    if (b === 0xd9) return this.view.getUint8(this.need(2) + 1);
    if (b === 0xda) return this.view.getUint16(this.need(3) + 1);
    if (b === 0xdb) return this.view.getUint32(this.need(5) + 1);
    return -1;
  }

  /** A string (invalid UTF-8 reads as U+FFFD, as the library read it). */
  str(): string {
    const at = this.pos;
    const n = this.strHeader();
    if (n < 0) throw this.mismatch("a string");
    if (n > this.end - this.pos) {
      this.pos = at;
      throw this.error("the value ends early (truncated MessagePack)");
    }
    const start = this.pos;
    this.pos = start + n;
    return utf8(this.buf, start, start + n);
  }

  /** Bytes (bin 8, 16 or 32): a view into the input. */
  bin(): Uint8Array {
    const b = this.peek();
    let n: number;
    if (b === 0xc4) n = this.view.getUint8(this.need(2) + 1);
    else if (b === 0xc5) n = this.view.getUint16(this.need(3) + 1);
    else if (b === 0xc6) n = this.view.getUint32(this.need(5) + 1);
    else throw this.mismatch("bytes");
    const start = this.need(n);
    return this.buf.subarray(start, start + n);
  }

  /** True when the next value is bin. */
  isBin(): boolean {
    const b = this.peek();
    return b >= 0xc4 && b <= 0xc6;
  }

  /** An array's length, consuming its header; -1 (nothing consumed) at another value. Each element takes a byte at least: a length the bytes left cannot hold is refused. */
  arrayHeader(): number {
    const b = this.peek();
    let n: number;
    if (b >= 0x90 && b <= 0x9f) {
      this.pos++;
      n = b - 0x90;
    } else if (b === 0xdc) {
      n = this.view.getUint16(this.need(3) + 1);
    } else if (b === 0xdd) {
      n = this.view.getUint32(this.need(5) + 1);
    } else {
      return -1;
    }
    if (n > this.end - this.pos) throw this.error(`an array of ${n} elements cannot fit in the ${this.end - this.pos} bytes left`);
    return n;
  }

  /** A map's entry count, consuming its header; -1 (nothing consumed) at another value. Each entry takes two bytes at least. */
  mapHeader(): number {
    const b = this.peek();
    let n: number;
    if (b >= 0x80 && b <= 0x8f) {
      this.pos++;
      n = b - 0x80;
    } else if (b === 0xde) {
      n = this.view.getUint16(this.need(3) + 1);
    } else if (b === 0xdf) {
      n = this.view.getUint32(this.need(5) + 1);
    } else {
      return -1;
    }
    if (n * 2 > this.end - this.pos) throw this.error(`a map of ${n} entries cannot fit in the ${this.end - this.pos} bytes left`);
    return n;
  }

  /** Enters an array or map (after its header): throws past {@link MAX_DEPTH}. */
  enter(): void {
    if (++this.depth > MAX_DEPTH) {
      throw this.error(`arrays and maps nest deeper than ${MAX_DEPTH} levels (MessagePack's nesting limit)`);
    }
  }

  /** Leaves an array or map entered with {@link enter}. */
  leave(): void {
    this.depth--;
  }

  /** Skips one value of any type, building nothing; nesting is checked as for reads. */
  skip(): void {
    const b = this.peek();
    if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) {
      this.pos++;
      return;
    }
    if ((b >= 0xa0 && b <= 0xbf) || (b >= 0xd9 && b <= 0xdb)) {
      this.need(this.strHeader());
      return;
    }
    let n = this.arrayHeader();
    if (n >= 0) {
      this.enter();
      for (let i = 0; i < n; i++) this.skip();
      this.leave();
      return;
    }
    n = this.mapHeader();
    if (n >= 0) {
      this.enter();
      for (let i = 0; i < 2 * n; i++) this.skip();
      this.leave();
      return;
    }
    switch (b) {
      case 0xc4:
      case 0xc5:
      case 0xc6:
        this.bin();
        return;
      case 0xca:
        this.need(5);
        return;
      case 0xcb:
        this.need(9);
        return;
      case 0xcc:
      case 0xd0:
        this.need(2);
        return;
      case 0xcd:
      case 0xd1:
        this.need(3);
        return;
      case 0xce:
      case 0xd2:
        this.need(5);
        return;
      case 0xcf:
      case 0xd3:
        this.need(9);
        return;
      case 0xd4:
        this.need(3);
        return;
      case 0xd5:
        this.need(4);
        return;
      case 0xd6:
        this.need(6);
        return;
      case 0xd7:
        this.need(10);
        return;
      case 0xd8:
        this.need(18);
        return;
      case 0xc7:
        this.need(this.view.getUint8(this.need(2) + 1) + 1);
        return;
      case 0xc8:
        this.need(this.view.getUint16(this.need(3) + 1) + 1);
        return;
      case 0xc9:
        this.need(this.view.getUint32(this.need(5) + 1) + 1);
        return;
      default:
        throw this.error(`0x${b.toString(16)} is not a MessagePack type`);
    }
  }

  /**
   * One value of any type, as plain values: nil as null, integers as
   * numbers (64-bit forms as bigints), bin as bytes, arrays, and maps as
   * Maps (keys of any type, kept as they are). For schemas that read from
   * plain values (`fromWire`) rather than from the reader.
   */
  value(): unknown {
    const b = this.peek();
    if (b === 0xc0) {
      this.pos++;
      return null;
    }
    const flag = this.bool();
    if (flag !== undefined) return flag;
    if (this.isInt()) return this.int();
    if (this.isFloat()) return this.float();
    if (this.isBin()) return this.bin();
    if ((b >= 0xa0 && b <= 0xbf) || (b >= 0xd9 && b <= 0xdb)) return this.str();
    let n = this.arrayHeader();
    if (n >= 0) {
      this.enter();
      const out = new Array<unknown>(n);
      for (let i = 0; i < n; i++) out[i] = this.value();
      this.leave();
      return out;
    }
    n = this.mapHeader();
    if (n >= 0) {
      this.enter();
      const out = new Map<unknown, unknown>();
      for (let i = 0; i < n; i++) {
        const key = this.value();
        out.set(key, this.value());
      }
      this.leave();
      return out;
    }
    throw this.mismatch("a value serde writes (extension types are not read)");
  }
}

const EMPTY = new Uint8Array(0);

/** UTF-8 to a string: ASCII in JavaScript (short strings are most), the rest by TextDecoder. */
function utf8(buf: Uint8Array, start: number, end: number): string {
  if (end - start > 64) return textDecoder.decode(buf.subarray(start, end));
  let s = "";
  for (let i = start; i < end; i++) {
    const c = buf[i] as number;
    if (c >= 0x80) return textDecoder.decode(buf.subarray(start, end));
    s += String.fromCharCode(c);
  }
  return s;
}
