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
 * - `Vec<u8>` with serde_bytes is bin (without it rmp_serde writes an array
 *   of numbers: both read as bytes).
 *
 * Each schema converts between the TypeScript value and the plain value the
 * MessagePack library writes and reads, checking it on the way.
 */

/** A schema of values of type `T`. */
export interface Schema<T> {
  /** What it is, for messages ("u64", "struct EchoRequest", "Option<string>"). */
  readonly description: string;
  /** The value a field of this schema takes when a frame sets none (the envelope's other fields). */
  readonly zero: T | undefined;
  /** The plain value the MessagePack encoder writes for `value`; throws a TypeError naming `path` when it does not fit. */
  toWire(value: T, path: string): unknown;
  /** The value of type `T` for a decoded plain value; throws a TypeError naming `path` when it does not fit. */
  fromWire(value: unknown, path: string): T;
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
): Schema<T> {
  return { description, zero, toWire, fromWire };
}

/** An integer within [min, max] (both exact in a double). */
function smallInt(name: string, min: number, max: number): Schema<number> {
  const check = (v: unknown, path: string): number => {
    if (typeof v === "number" && Number.isInteger(v) && v >= min && v <= max) return v;
    if (typeof v === "bigint" && v >= BigInt(min) && v <= BigInt(max)) return Number(v);
    throw mismatch(path, `${name} (an integer from ${min} to ${max})`, v);
  };
  return schema(name, 0, check, check);
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
  return schema(name, 0, (v, path) => wireInt(check(v, path)), check);
}

/**
 * An integer as the encoder must get it to write it as rmp writes it, in its
 * smallest integer form: a number within 32 bits, a bigint beyond (the
 * encoder, with bigints on, writes numbers past 32 bits as floats).
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
 * `f64`. Whole numbers are written as MessagePack integers (the library's
 * choice; rmp_serde reads integers into f64 fields), others as float 64.
 */
export const f64: Schema<number> = schema(
  "f64",
  0,
  (v, path) => {
    if (typeof v !== "number") throw mismatch(path, "f64 (a number)", v);
    return v;
  },
  (v, path) => {
    if (typeof v === "number") return v;
    if (typeof v === "bigint") return Number(v);
    throw mismatch(path, "f64 (a number)", v);
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
);

/** `Option<T>`: nil or the value; `undefined` (or `null`) in TypeScript. */
export function option<T>(inner: Schema<T>): Schema<T | undefined> {
  return schema<T | undefined>(
    `Option<${inner.description}>`,
    undefined,
    (v, path) => (v === undefined || v === null ? null : inner.toWire(v, path)),
    (v, path) => (v === null || v === undefined ? undefined : inner.fromWire(v, path)),
  );
}

/** `Vec<T>`: an array. */
export function vec<T>(item: Schema<T>): Schema<T[]> {
  return schema<T[]>(
    `Vec<${item.description}>`,
    [],
    (v, path) => {
      if (!Array.isArray(v)) throw mismatch(path, `Vec<${item.description}> (an array)`, v);
      return v.map((x, i) => item.toWire(x, `${path}[${i}]`));
    },
    (v, path) => {
      if (!Array.isArray(v)) throw mismatch(path, `Vec<${item.description}> (an array)`, v);
      return v.map((x, i) => item.fromWire(x, `${path}[${i}]`));
    },
  );
}

/** `HashMap<String, T>` (or a BTreeMap): a map with string keys, a plain object in TypeScript. */
export function map<T>(value: Schema<T>): Schema<Record<string, T>> {
  const convert = (v: unknown, path: string, f: (x: T, p: string) => unknown): Record<string, unknown> => {
    if (v === null || typeof v !== "object" || Array.isArray(v) || v instanceof Uint8Array)
      throw mismatch(path, `a map of string to ${value.description}`, v);
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (k === "__proto__") throw new TypeError(`${path}: the key "__proto__" is not allowed`);
      out[k] = f(x as T, `${path}.${k}`);
    }
    return out;
  };
  return schema<Record<string, T>>(
    `HashMap<String, ${value.description}>`,
    {},
    (v, path) => convert(v, path, (x, p) => value.toWire(x, p)),
    (v, path) => convert(v, path, (x, p) => value.fromWire(x, p)) as Record<string, T>,
  );
}

/** The fields of a struct whose TypeScript type is `T`, each with its schema, in declaration order. */
export type StructFields<T> = { [K in keyof T]-?: Schema<T[K]> };

/**
 * A struct (a serde `#[derive(Serialize, Deserialize)] struct`): written as
 * the array of its fields in the order given here, which must be the Rust
 * declaration order. Read from that array (exactly as many elements, as
 * rmp_serde requires) or from a map keyed by field names (missing `Option`
 * fields read as undefined, unknown keys are ignored, as serde does).
 *
 * ```ts
 * interface EchoRequest { message: string; nanotime: number | bigint }
 * const EchoRequest = struct<EchoRequest>("EchoRequest", { message: string, nanotime: u64 });
 * ```
 */
export function struct<T extends object>(name: string, fields: StructFields<T>): StructSchema<T> {
  const entries = Object.entries(fields) as [string, Schema<unknown>][];
  const names = entries.map(([n]) => n);
  const count = entries.length;
  const description = `struct ${name}`;
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
      if (v !== null && typeof v === "object" && !(v instanceof Uint8Array)) {
        const record = v as Record<string, unknown>;
        for (const [field, s] of entries) {
          if (!Object.hasOwn(record, field)) {
            if (s.description.startsWith("Option<")) {
              out[field] = undefined;
              continue;
            }
            throw new TypeError(`${path}: ${description} is missing the field "${field}"`);
          }
          out[field] = s.fromWire(record[field], `${path}.${field}`);
        }
        return out as T;
      }
      throw mismatch(path, `${description} (an array of ${count} fields or a map)`, v);
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
  const firstUnit = names.find((n) => variants[n] === null);
  return schema<EnumValue<V>>(
    description,
    firstUnit as EnumValue<V> | undefined,
    (v, path) => {
      if (typeof v === "string") {
        if (variants[v] === null) return v;
      } else if (v !== null && typeof v === "object") {
        const keys = Object.keys(v);
        const key = keys[0];
        const inner = key === undefined ? undefined : variants[key];
        if (keys.length === 1 && inner !== undefined && inner !== null)
          return { [key as string]: inner.toWire((v as Record<string, unknown>)[key as string], `${path}.${key}`) };
      }
      throw mismatch(path, `${description} (one of ${names.join(", ")})`, v);
    },
    (v, path) => {
      if (typeof v === "string" && variants[v] === null) return v as EnumValue<V>;
      if (typeof v === "number" && Number.isInteger(v) && v >= 0 && v < names.length && variants[names[v] as string] === null)
        return names[v] as EnumValue<V>;
      if (v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Uint8Array)) {
        const keys = Object.keys(v);
        const key = keys[0];
        const inner = key === undefined ? undefined : variants[key];
        if (keys.length === 1 && inner !== undefined && inner !== null) {
          return { [key as string]: inner.fromWire((v as Record<string, unknown>)[key as string], `${path}.${key}`) } as EnumValue<V>;
        }
      }
      throw mismatch(path, `${description} (one of ${names.join(", ")})`, v);
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
