/**
 * MessagePack schemas: the shape of a message as serde and rmp_serde put it
 * on the wire with the Rust protosocket-messagepack crate (rmp_serde's
 * default configuration), so a TypeScript type and a Rust type that declare
 * the same fields in the same order read each other's bytes.
 *
 * - a struct is an array of its fields in declaration order (rmp_serde also
 *   reads a map keyed by field names, and so do we);
 * - `Option<T>` is nil or the value;
 * - an enum's unit variant is its name as a string; a newtype variant is a
 *   map of one entry, name → value;
 * - integers take their smallest form; u64 and i64 are JavaScript numbers
 *   while exact and bigints beyond 2^53;
 * - an f64 is always a float 64 (−0.0 keeps its sign);
 * - a map's keys are what its key schema writes (a `HashMap<u32, _>` has
 *   integer keys, never strings);
 * - `Vec<u8>` with serde_bytes is bin (without it rmp_serde writes an array
 *   of numbers: both read as bytes).
 *
 * Each schema converts a TypeScript value to the plain value the writer
 * writes (`toWire`, checking it on the way), and reads its own shape from
 * the bytes (`read`): nothing the schema does not describe is built
 * (mp-reader.ts).
 */
import type { MpReader } from "./mp-reader.js";
import { Float64 } from "./mp-writer.js";

/** A schema of values of type `T`. */
export interface Schema<T> {
  /** What it is, for messages ("u64", "struct EchoRequest", "Option<string>"). */
  readonly description: string;
  /** The value a field of this schema takes when a frame sets none (the envelope's other fields). */
  readonly zero: T | undefined;
  /** The plain value the MessagePack writer writes for `value`; throws a TypeError naming `path` when it does not fit. */
  toWire(value: T, path: string): unknown;
  /**
   * The value of type `T` for a decoded plain value (maps as `Map`s or plain
   * objects); throws a TypeError naming `path` when it does not fit.
   */
  fromWire(value: unknown, path: string): T;
  /**
   * Reads a value of type `T` from MessagePack bytes; throws a TypeError
   * naming where it is when the next value does not fit. The built-in
   * schemas have it; a schema without it is read as a plain value, then
   * {@link fromWire}.
   */
  read?(r: MpReader): T;
  /** The type, for inference only. */
  readonly __type?: T;
}

/** The TypeScript type a schema describes. */
export type Infer<S> = S extends Schema<infer T> ? T : never;

/** A struct's schema, with its fields in declaration order. */
export interface StructSchema<T> extends Schema<T> {
  /** The struct's name (for messages). */
  readonly name: string;
  /** The field names, in declaration order (the order of the array on the wire). */
  readonly fieldNames: readonly string[];
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const U64_MAX = 2n ** 64n - 1n;
const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

function mismatch(path: string, expected: string, got: unknown): TypeError {
  let what: string;
  if (got === null) what = "nil";
  else if (got instanceof Uint8Array) what = `${got.byteLength} bytes`;
  else if (Array.isArray(got)) what = `an array of ${got.length}`;
  else if (typeof got === "string") what = `"${got.length > 40 ? `${got.slice(0, 40)}…` : got}"`;
  else if (typeof got === "object") what = "a map";
  else what = `${typeof got} ${String(got)}`;
  return new TypeError(`${path}: expected ${expected}, got ${what}`);
}

function schema<T>(
  description: string,
  zero: T | undefined,
  toWire: (v: T, path: string) => unknown,
  fromWire: (v: unknown, path: string) => T,
  read: (r: MpReader) => T,
): Schema<T> {
  return { description, zero, toWire, fromWire, read };
}

/** Reads a value of `s` at the reader: with the schema's own reader, or as a plain value through its fromWire. */
export function readWith<T>(s: Schema<T>, r: MpReader): T {
  return s.read !== undefined ? s.read(r) : s.fromWire(r.value(), r.where());
}

/** The entries of a decoded map (a Map's, or a plain object's own), or undefined for anything else. */
function entriesOf(v: unknown): Iterable<[unknown, unknown]> | undefined {
  if (v instanceof Map) return v as Map<unknown, unknown>;
  if (v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof Float64)) {
    return Object.entries(v);
  }
  return undefined;
}

/** Sets an own data property, "__proto__" included (which assignment would take as the prototype). */
function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
  else obj[key] = value;
}

/** An integer within [min, max] (both exact in a double). */
function smallInt(name: string, min: number, max: number): Schema<number> {
  const expected = `${name} (an integer from ${min} to ${max})`;
  const check = (v: unknown, path: string): number => {
    if (typeof v === "number" && Number.isInteger(v) && v >= min && v <= max) return v;
    if (typeof v === "bigint" && v >= BigInt(min) && v <= BigInt(max)) return Number(v);
    throw mismatch(path, expected, v);
  };
  const read = (r: MpReader): number => {
    if (r.isInt()) {
      const at = r.pos;
      const v = r.int();
      if (typeof v === "number" ? v >= min && v <= max : v >= BigInt(min) && v <= BigInt(max)) return Number(v);
      r.pos = at;
    }
    throw r.mismatch(expected);
  };
  return schema(name, 0, check, check, read);
}

/** A 64-bit integer: a number while exact, a bigint beyond. */
function bigInt(name: string, min: bigint, max: bigint): Schema<number | bigint> {
  const check = (v: unknown, path: string): number | bigint => {
    if (typeof v === "number") {
      if (Number.isSafeInteger(v) && BigInt(v) >= min) return v;
    } else if (typeof v === "bigint") {
      if (v >= min && v <= max) return v >= -BigInt(MAX_SAFE) && v <= BigInt(MAX_SAFE) ? Number(v) : v;
    }
    throw mismatch(path, `${name} (an integer from ${min} to ${max}: a safe integer or a bigint)`, v);
  };
  const read = (r: MpReader): number | bigint => {
    if (r.isInt()) {
      const at = r.pos;
      const v = r.int();
      // The 32-bit forms are numbers (within any 64-bit range but for a negative u64); the 64-bit forms bigints.
      if (typeof v === "number") {
        if (v >= 0 || min < 0n) return v;
      } else if (v >= min && v <= max) {
        return v >= -BigInt(MAX_SAFE) && v <= BigInt(MAX_SAFE) ? Number(v) : v;
      }
      r.pos = at;
    }
    throw r.mismatch(`${name} (an integer from ${min} to ${max})`);
  };
  return schema(name, 0, (v, path) => wireInt(check(v, path)), check, read);
}

/**
 * An integer as the writer must get it to write it as rmp writes it, in its
 * smallest integer form: a number within 32 bits, a bigint beyond.
 */
export function wireInt(v: number | bigint): number | bigint {
  if (typeof v === "number") return v >= -0x8000_0000 && v <= 0xffff_ffff ? v : BigInt(v);
  return v >= -0x8000_0000n && v <= 0xffff_ffffn ? Number(v) : v;
}

/** `bool`. */
export const bool: Schema<boolean> = schema(
  "bool",
  false,
  (v, path) => {
    if (typeof v !== "boolean") throw mismatch(path, "bool", v);
    return v;
  },
  (v, path) => {
    if (typeof v !== "boolean") throw mismatch(path, "bool", v);
    return v;
  },
  (r) => {
    const v = r.bool();
    if (v === undefined) throw r.mismatch("bool");
    return v;
  },
);
/** `u8`. */
export const u8 = smallInt("u8", 0, 0xff);
/** `u16`. */
export const u16 = smallInt("u16", 0, 0xffff);
/** `u32`. */
export const u32 = smallInt("u32", 0, 0xffff_ffff);
/** `u64`: a number up to 2^53 − 1, a bigint beyond (either is accepted when writing). */
export const u64 = bigInt("u64", 0n, U64_MAX);
/** `i8`. */
export const i8 = smallInt("i8", -0x80, 0x7f);
/** `i16`. */
export const i16 = smallInt("i16", -0x8000, 0x7fff);
/** `i32`. */
export const i32 = smallInt("i32", -0x8000_0000, 0x7fff_ffff);
/** `i64`: a number within ±(2^53 − 1), a bigint beyond. */
export const i64 = bigInt("i64", I64_MIN, I64_MAX);
/**
 * `f64`: written as float 64 whatever its value, as rmp_serde writes it
 * (−0.0 keeps its sign; 2.0 stays a float); read from a float or an integer
 * (rmp_serde reads both into an f64).
 */
export const f64: Schema<number> = schema(
  "f64",
  0,
  (v, path) => {
    if (typeof v !== "number") throw mismatch(path, "f64 (a number)", v);
    return new Float64(v);
  },
  (v, path) => {
    if (typeof v === "number") return v;
    if (typeof v === "bigint") return Number(v);
    if (v instanceof Float64) return v.value;
    throw mismatch(path, "f64 (a number)", v);
  },
  (r) => {
    if (r.isFloat()) return r.float();
    if (r.isInt()) return Number(r.int());
    throw r.mismatch("f64 (a number)");
  },
);
/** `String`. */
export const string: Schema<string> = schema(
  "string",
  "",
  (v, path) => {
    if (typeof v !== "string") throw mismatch(path, "string", v);
    return v;
  },
  (v, path) => {
    if (typeof v !== "string") throw mismatch(path, "string", v);
    return v;
  },
  (r) => {
    if (!r.isStr()) throw r.mismatch("string");
    return r.str();
  },
);
const EMPTY_BYTES: Uint8Array = new Uint8Array(0);
/** Bytes (`Vec<u8>`, written as bin as serde_bytes does; an array of numbers, as plain `Vec<u8>` is written, reads too). */
export const bytes: Schema<Uint8Array> = schema<Uint8Array>(
  "bytes",
  EMPTY_BYTES,
  (v, path) => {
    if (!(v instanceof Uint8Array)) throw mismatch(path, "bytes (a Uint8Array)", v);
    return v;
  },
  (v, path) => {
    if (v instanceof Uint8Array) return v;
    if (Array.isArray(v) && v.every((b) => typeof b === "number" && Number.isInteger(b) && b >= 0 && b <= 0xff))
      return Uint8Array.from(v as number[]);
    throw mismatch(path, "bytes (bin, or an array of u8)", v);
  },
  (r) => {
    if (r.isBin()) return r.bin();
    const at = r.pos;
    const n = r.arrayHeader();
    if (n >= 0) {
      // rmp_serde's plain Vec<u8>: an array of integers, each 0 to 255 (mostly one byte each).
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        const b = r.isInt() ? r.int() : -1;
        if (typeof b !== "number" || b < 0 || b > 0xff) {
          r.pos = at;
          throw r.mismatch("bytes (bin, or an array of u8)");
        }
        out[i] = b;
      }
      return out;
    }
    throw r.mismatch("bytes (bin, or an array of u8)");
  },
);

/** `Option<T>`: nil or the value; `undefined` (or `null`) in TypeScript. */
export function option<T>(inner: Schema<T>): Schema<T | undefined> {
  return schema<T | undefined>(
    `Option<${inner.description}>`,
    undefined,
    (v, path) => (v === undefined || v === null ? null : inner.toWire(v, path)),
    (v, path) => (v === null || v === undefined ? undefined : inner.fromWire(v, path)),
    (r) => (r.nil() ? undefined : readWith(inner, r)),
  );
}

/** `Vec<T>`: an array. */
export function vec<T>(item: Schema<T>): Schema<T[]> {
  const expected = `Vec<${item.description}> (an array)`;
  return schema<T[]>(
    `Vec<${item.description}>`,
    [],
    (v, path) => {
      if (!Array.isArray(v)) throw mismatch(path, expected, v);
      return v.map((x, i) => item.toWire(x, `${path}[${i}]`));
    },
    (v, path) => {
      if (!Array.isArray(v)) throw mismatch(path, expected, v);
      return v.map((x, i) => item.fromWire(x, `${path}[${i}]`));
    },
    (r) => {
      const n = r.arrayHeader();
      if (n < 0) throw r.mismatch(expected);
      r.enter();
      const out = new Array<T>(n);
      for (let i = 0; i < n; i++) {
        r.push(i);
        out[i] = readWith(item, r);
        r.pop();
      }
      r.leave();
      return out;
    },
  );
}

/**
 * A map (a Rust `HashMap` or `BTreeMap`). With one schema, of its values:
 * string keys, a plain object in TypeScript (`HashMap<String, T>`). With
 * two, of its keys and its values: a `Map` whose keys are written and read
 * as the key schema says, as rmp_serde writes them (`map(u32, string)` is a
 * `HashMap<u32, String>`: integer keys on the wire, number keys in the Map).
 * A key that does not fit its schema is refused, never converted; a key
 * named "__proto__" is an ordinary key.
 */
export function map<T>(value: Schema<T>): Schema<Record<string, T>>;
export function map<K, V>(key: Schema<K>, value: Schema<V>): Schema<Map<K, V>>;
export function map<K, V>(first: Schema<K> | Schema<V>, second?: Schema<V>): Schema<Record<string, V>> | Schema<Map<K, V>> {
  if (second === undefined) return stringMap(first as Schema<V>);
  return keyedMap(first as Schema<K>, second);
}

function stringMap<T>(value: Schema<T>): Schema<Record<string, T>> {
  const description = `HashMap<String, ${value.description}>`;
  const expected = `a map of string to ${value.description}`;
  const convert = (v: unknown, path: string, f: (x: unknown, p: string) => unknown): Record<string, unknown> => {
    const entries = v instanceof Map ? v : entriesOf(v);
    if (entries === undefined) throw mismatch(path, expected, v);
    const out: Record<string, unknown> = {};
    for (const [k, x] of entries) {
      if (typeof k !== "string") throw mismatch(`${path} key`, "string", k);
      setOwn(out, k, f(x, `${path}.${k}`));
    }
    return out;
  };
  return schema<Record<string, T>>(
    description,
    {},
    (v, path) => convert(v, path, (x, p) => value.toWire(x as T, p)),
    (v, path) => convert(v, path, (x, p) => value.fromWire(x, p)) as Record<string, T>,
    (r) => {
      const n = r.mapHeader();
      if (n < 0) throw r.mismatch(expected);
      r.enter();
      const out: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) {
        if (!r.isStr()) throw r.mismatch(`a string key (${description})`);
        const k = r.str();
        r.push(k);
        setOwn(out, k, readWith(value, r));
        r.pop();
      }
      r.leave();
      return out as Record<string, T>;
    },
  );
}

function keyedMap<K, V>(key: Schema<K>, value: Schema<V>): Schema<Map<K, V>> {
  const description = `HashMap<${key.description}, ${value.description}>`;
  const expected = `a map of ${key.description} to ${value.description}`;
  return schema<Map<K, V>>(
    description,
    new Map(),
    (v, path) => {
      if (!(v instanceof Map)) throw mismatch(path, `${description} (a Map)`, v);
      const out = new Map<unknown, unknown>();
      for (const [k, x] of v) out.set(key.toWire(k as K, `${path} key`), value.toWire(x as V, `${path}[${String(k)}]`));
      return out;
    },
    (v, path) => {
      const entries = entriesOf(v);
      if (entries === undefined) throw mismatch(path, expected, v);
      const out = new Map<K, V>();
      for (const [k, x] of entries) {
        const typed = key.fromWire(k, `${path} key`);
        out.set(typed, value.fromWire(x, `${path}[${String(k)}]`));
      }
      return out;
    },
    (r) => {
      const n = r.mapHeader();
      if (n < 0) throw r.mismatch(expected);
      r.enter();
      const out = new Map<K, V>();
      for (let i = 0; i < n; i++) {
        r.push("key");
        const k = readWith(key, r);
        r.pop();
        r.push(typeof k === "string" || typeof k === "number" ? k : i);
        out.set(k, readWith(value, r));
        r.pop();
      }
      r.leave();
      return out;
    },
  );
}

/** The fields of a struct whose TypeScript type is `T`, each with its schema, in declaration order. */
export type StructFields<T> = { [K in keyof T]-?: Schema<T[K]> };

/**
 * A struct (a serde `#[derive(Serialize, Deserialize)] struct`): written as
 * the array of its fields in the order given here, which must be the Rust
 * declaration order. Read from that array (exactly as many elements, as
 * rmp_serde requires) or from a map keyed by field names (missing `Option`
 * fields read as undefined, unknown keys are skipped unread, as serde
 * ignores them).
 *
 * ```ts
 * interface EchoRequest { message: string; nanotime: number | bigint }
 * const EchoRequest = struct<EchoRequest>("EchoRequest", { message: string, nanotime: u64 });
 * ```
 */
export function struct<T extends object>(name: string, fields: StructFields<T>): StructSchema<T> {
  const entries = Object.entries(fields) as [string, Schema<unknown>][];
  const names = entries.map(([n]) => n);
  const index = new Map(names.map((n, i) => [n, i]));
  const count = entries.length;
  const description = `struct ${name}`;
  const expected = `${description} (an array of ${count} fields or a map)`;
  /** Fields missing from the map form: undefined for an Option, else an error. */
  const missing = (out: Record<string, unknown>, seen: boolean[], where: () => string): void => {
    for (let i = 0; i < count; i++) {
      if (seen[i] === true) continue;
      const [field, s] = entries[i] as [string, Schema<unknown>];
      if (!s.description.startsWith("Option<")) throw new TypeError(`${where()}: ${description} is missing the field "${field}"`);
      out[field] = undefined;
    }
  };
  return {
    name,
    description,
    fieldNames: names,
    zero: undefined,
    toWire(v, path) {
      if (v === null || typeof v !== "object" || Array.isArray(v)) throw mismatch(path, `${description} (an object)`, v);
      const out = new Array<unknown>(count);
      const record = v as Record<string, unknown>;
      for (let i = 0; i < count; i++) {
        const [field, s] = entries[i] as [string, Schema<unknown>];
        out[i] = s.toWire(record[field], `${path}.${field}`);
      }
      return out;
    },
    fromWire(v, path) {
      const out: Record<string, unknown> = {};
      if (Array.isArray(v)) {
        if (v.length !== count) throw new TypeError(`${path}: ${description} has ${count} fields, got an array of ${v.length}`);
        for (let i = 0; i < count; i++) {
          const [field, s] = entries[i] as [string, Schema<unknown>];
          out[field] = s.fromWire(v[i], `${path}.${field}`);
        }
        return out as T;
      }
      const pairs = entriesOf(v);
      if (pairs === undefined) throw mismatch(path, expected, v);
      const seen: boolean[] = [];
      for (const [k, x] of pairs) {
        const i = typeof k === "string" ? index.get(k) : undefined;
        if (i === undefined) continue;
        const [field, s] = entries[i] as [string, Schema<unknown>];
        out[field] = s.fromWire(x, `${path}.${field}`);
        seen[i] = true;
      }
      missing(out, seen, () => path);
      return out as T;
    },
    read(r) {
      const out: Record<string, unknown> = {};
      const n = r.arrayHeader();
      if (n >= 0) {
        if (n !== count) throw r.error(`${description} has ${count} fields, got an array of ${n}`);
        r.enter();
        for (let i = 0; i < count; i++) {
          const [field, s] = entries[i] as [string, Schema<unknown>];
          r.push(field);
          out[field] = readWith(s, r);
          r.pop();
        }
        r.leave();
        return out as T;
      }
      const m = r.mapHeader();
      if (m < 0) throw r.mismatch(expected);
      r.enter();
      const seen: boolean[] = [];
      for (let k = 0; k < m; k++) {
        const key = r.stringKey();
        const i = key === undefined ? undefined : index.get(key);
        if (i === undefined) {
          r.skip();
          continue;
        }
        const [field, s] = entries[i] as [string, Schema<unknown>];
        r.push(field);
        out[field] = readWith(s, r);
        r.pop();
        seen[i] = true;
      }
      r.leave();
      missing(out, seen, () => r.where());
      return out as T;
    },
  };
}

/** The variants of an enum: `null` for a unit variant, the schema of its value for a newtype variant. */
export type Variants = Readonly<Record<string, Schema<unknown> | null>>;

/** The TypeScript type of an enum: a unit variant's name, or `{ Name: value }` for a newtype variant. */
export type EnumValue<V extends Variants> = {
  [K in keyof V & string]: V[K] extends Schema<infer T> ? { readonly [P in K]: T } : K;
}[keyof V & string];

/**
 * An enum (serde's externally tagged representation, as rmp_serde writes
 * it): a unit variant is its name, a newtype variant a map of one entry,
 * name → value. Unit variants also read from their index, as serde allows.
 *
 * ```ts
 * const Behavior = enumeration("ResponseBehavior", { Unary: null, Stream: null }); // "Unary" | "Stream"
 * ```
 */
export function enumeration<V extends Variants>(name: string, variants: V): Schema<EnumValue<V>> {
  const names = Object.keys(variants);
  const description = `enum ${name}`;
  const expected = `${description} (one of ${names.join(", ")})`;
  const firstUnit = names.find((n) => variants[n] === null);
  /** The variant named `key`: null for a unit variant, its schema for a newtype one, undefined when there is none. */
  const variant = (key: unknown): Schema<unknown> | null | undefined =>
    typeof key === "string" && Object.hasOwn(variants, key) ? variants[key] : undefined;
  const one = (key: string, value: unknown): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    setOwn(out, key, value);
    return out;
  };
  return schema<EnumValue<V>>(
    description,
    firstUnit as EnumValue<V> | undefined,
    (v, path) => {
      if (typeof v === "string") {
        if (variant(v) === null) return v;
      } else if (v !== null && typeof v === "object") {
        const keys = Object.keys(v);
        const key = keys[0] as string;
        const inner = variant(key);
        if (keys.length === 1 && inner !== undefined && inner !== null)
          return one(key, inner.toWire((v as Record<string, unknown>)[key], `${path}.${key}`));
      }
      throw mismatch(path, expected, v);
    },
    (v, path) => {
      if (typeof v === "string" && variant(v) === null) return v as EnumValue<V>;
      if (typeof v === "number" && Number.isInteger(v) && v >= 0 && v < names.length && variants[names[v] as string] === null)
        return names[v] as EnumValue<V>;
      const pairs = entriesOf(v);
      if (pairs !== undefined) {
        const all = [...pairs];
        const [key, value] = all[0] ?? [];
        const inner = variant(key);
        if (all.length === 1 && inner !== undefined && inner !== null) {
          return one(key as string, inner.fromWire(value, `${path}.${key as string}`)) as EnumValue<V>;
        }
      }
      throw mismatch(path, expected, v);
    },
    (r) => {
      const at = r.pos;
      if (r.isStr()) {
        const v = r.str();
        if (variant(v) === null) return v as EnumValue<V>;
      } else if (r.isInt()) {
        const v = r.int();
        if (typeof v === "number" && v >= 0 && v < names.length && variants[names[v] as string] === null) return names[v] as EnumValue<V>;
      } else if (r.mapHeader() === 1) {
        const key = r.isStr() ? r.str() : undefined;
        const inner = variant(key);
        if (key !== undefined && inner !== undefined && inner !== null) {
          r.enter();
          r.push(key);
          const value = readWith(inner, r);
          r.pop();
          r.leave();
          return one(key, value) as EnumValue<V>;
        }
      }
      r.pos = at;
      throw r.mismatch(expected);
    },
  );
}

/** One detail of an error, as google.protobuf.Any carries it: `struct Detail { type_url: String, value: Vec<u8> }`. */
export interface ErrorDetail {
  readonly type_url: string;
  readonly value: Uint8Array;
}

/** The schema of an error struct's details field (`Vec<Detail>`): see `ErrorCaseSpec.detailsField`. */
export const errorDetails: Schema<ErrorDetail[]> = vec(struct<ErrorDetail>("Detail", { type_url: string, value: bytes }));
