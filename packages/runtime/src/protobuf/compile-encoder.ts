/**
 * Generates an encoder per message type from its descriptor: one JavaScript
 * function per reachable message type, built with `new Function`, that
 * writes the fields in ascending number order into a {@link ProtoWriter}
 * exactly as `toBinary` writes them (same presence rules, same zero checks,
 * unknown fields last).
 *
 * The generated code accepts only values of the types protobuf-es messages
 * hold (a number for int32, a bigint for int64, a Uint8Array for bytes, …).
 * Anything else — a string where a number belongs, a required field unset, a
 * message of another type — makes it decline (throw), and the caller encodes
 * with `toBinary`, which then writes what it writes or throws its own error.
 */
import { create, ScalarType, toBinary, type DescField, type DescMessage, type DescOneof } from "@bufbuild/protobuf";
import { FeatureSet_FieldPresence } from "@bufbuild/protobuf/wkt";
import {
  anyField,
  scalarOf,
  compilable,
  Constants,
  isUnwrappedField,
  lit,
  prop,
  reachableMessages,
  sortedFields,
  Source,
  tagOf,
  WIRE_END_GROUP,
  WIRE_LEN,
  WIRE_START_GROUP,
  wireTypeOf,
} from "./codegen.js";
import type { ProtoWriter } from "./proto-writer.js";

/** Writes a message's fields (not its own tag or length); throws when it declines. */
export type EncodeFn = (message: unknown, writer: ProtoWriter) => void;

/**
 * The two encoders of a type: of a message, and of an init object (what
 * `create(schema, init)` would turn into a message: the bytes are those of
 * `toBinary(schema, create(schema, init))`, without building the message).
 */
export interface Encoders {
  readonly message: EncodeFn;
  readonly init: EncodeFn;
}

/** Thrown by generated encoders: "encode this value with toBinary instead". */
export const DECLINE: unique symbol = Symbol("protobuf encode declined");

const U64_MAX = 0xffff_ffff_ffff_ffffn;
const I64_MIN = -0x8000_0000_0000_0000n;
const I64_MAX = 0x7fff_ffff_ffff_ffffn;

function decline(): never {
  throw DECLINE;
}

/** A bigint, or what BigInt() makes of a string or number, within [min, max]; else declines. */
function toBigIntIn(v: unknown, min: bigint, max: bigint): bigint {
  let b: bigint;
  if (typeof v === "bigint") b = v;
  else if (typeof v === "string" || typeof v === "number") {
    try {
      b = BigInt(v);
    } catch {
      return decline();
    }
  } else return decline();
  if (b < min || b > max) decline();
  return b;
}

/** protoInt64.parse. */
function toInt64(v: unknown): bigint {
  return toBigIntIn(v, I64_MIN, I64_MAX);
}

/** protoInt64.uParse. */
function toUint64(v: unknown): bigint {
  return toBigIntIn(v, 0n, U64_MAX);
}

/** Writes `$unknown` (tag, then the data as it is), as toBinary does. */
function writeUnknown(list: unknown, w: ProtoWriter): void {
  if (!Array.isArray(list)) decline();
  for (const u of list as unknown[]) {
    if (u === null || typeof u !== "object") decline();
    const { no, wireType, data } = u as { no: unknown; wireType: unknown; data: unknown };
    if (typeof no !== "number" || !Number.isInteger(no) || no < 1 || no > 0x1fff_ffff) decline();
    if (typeof wireType !== "number" || !Number.isInteger(wireType) || wireType < 0 || wireType > 5) decline();
    if (!(data instanceof Uint8Array)) decline();
    w.uint32(((no << 3) | wireType) >>> 0);
    w.raw(data);
  }
}

/** A message type that is not compiled: its bytes come from toBinary. */
function writeDelegated(desc: DescMessage, message: unknown, w: ProtoWriter): void {
  let bytes: Uint8Array;
  try {
    bytes = toBinary(desc, message as never);
  } catch {
    decline();
  }
  w.raw(bytes);
}

const hasOwn = Object.prototype.hasOwnProperty;

const helpers = { decline, toInt64, toUint64, writeUnknown, writeDelegated, hasOwn, create };

class EncoderGenerator {
  readonly src = new Source();
  readonly constants = new Constants();
  private readonly index = new Map<DescMessage, number>();
  private vars = 0;
  /** True while generating the init-object variant (`i<n>`) of a type. */
  private init = false;

  constructor(private readonly types: DescMessage[]) {
    for (const [i, t] of types.entries()) this.index.set(t, i);
  }

  private fresh(prefix: string): string {
    return `${prefix}${this.vars++}`;
  }

  generate(): string {
    const s = this.src;
    s.line(`"use strict";`);
    s.line(
      `const D = H.decline, I64 = H.toInt64, U64 = H.toUint64, UNK = H.writeUnknown, DEL = H.writeDelegated, own = H.hasOwn, mk = H.create;`,
    );
    this.types.forEach((t, i) => {
      if (compilable(t)) {
        this.init = false;
        this.message(t, i);
        this.init = true;
        this.message(t, i);
      } else {
        const c = this.constants.ref(t);
        s.line(`function e${i}(m, w) { DEL(${c}, m, w); }`);
        s.line(`function i${i}(m, w) { DEL(${c}, mk(${c}, m), w); }`);
      }
    });
    s.line(`return { message: e0, init: i0 };`);
    return s.toString();
  }

  private message(desc: DescMessage, i: number): void {
    const s = this.src;
    if (this.init) {
      // An init object: fields are read by name, as create() reads them (callers checked it is an object).
      s.open(`function i${i}(m, w) {`);
    } else {
      s.open(`function e${i}(m, w) {`);
      s.line(`if (m === null || typeof m !== "object" || m.$typeName !== ${lit(desc.typeName)}) D();`);
    }
    const fields = sortedFields(desc);
    const oneofVars = new Map<DescOneof, string>();
    for (let k = 0; k < fields.length; ) {
      const field = fields[k] as DescField;
      const oneof = field.oneof;
      if (oneof === undefined) {
        this.field(field);
        k++;
        continue;
      }
      let o = oneofVars.get(oneof);
      if (o === undefined) {
        o = this.fresh("o");
        oneofVars.set(oneof, o);
        s.line(`const ${o} = ${prop("m", oneof.localName)};`);
        // toBinary reads `.case` of the oneof object for each of its fields; create() takes
        // a known case of any value and ignores the rest.
        if (!this.init) s.line(`if (${o} === null || typeof ${o} !== "object") D();`);
      }
      // A run of consecutive fields of one oneof: one switch.
      let end = k;
      while (end < fields.length && (fields[end] as DescField).oneof === oneof) end++;
      s.open(this.init ? `if (${o} != null) switch (${o}.case) {` : `switch (${o}.case) {`);
      for (let j = k; j < end; j++) {
        const f = fields[j] as DescField;
        s.open(`case ${lit(f.localName)}: {`);
        this.value(f, `${o}.value`);
        s.line(`break;`);
        s.close();
      }
      s.close();
      k = end;
    }
    if (!this.init) {
      // create() does not copy unknown fields from an init object.
      s.line(`const u = m.$unknown;`);
      s.line(`if (u !== undefined) UNK(u, w);`);
    }
    s.close();
  }

  /** A field outside any oneof. */
  private field(field: DescField): void {
    const s = this.src;
    const v = this.fresh("v");
    s.line(`const ${v} = ${prop("m", field.localName)};`);
    switch (field.fieldKind) {
      case "list":
        this.list(field, v);
        return;
      case "map":
        this.map(field, v);
        return;
      default:
        break;
    }
    if (field.fieldKind === "message" || field.presence !== FeatureSet_FieldPresence.IMPLICIT) {
      // A message has the field when it is its own property; create() sets it when the init value is not null.
      s.open(this.init ? `if (${v} != null) {` : `if (${v} !== undefined && own.call(m, ${lit(field.localName)})) {`);
      this.value(field, v);
      if (field.presence === FeatureSet_FieldPresence.LEGACY_REQUIRED) {
        s.close(`} else D();`);
      } else {
        s.close();
      }
      return;
    }
    // create() gives a null or missing init value the zero value.
    s.open(this.init ? `if (${v} != null && ${this.notZero(field, v)}) {` : `if (${this.notZero(field, v)}) {`);
    this.value(field, v);
    s.close();
  }

  /** toBinary's implicit-presence check: the field is written when this is true. */
  private notZero(field: DescField, v: string): string {
    if (field.fieldKind === "enum") return `${v} !== ${(field.enum.values[0] as { number: number }).number}`;
    return this.scalarNotZero(field.scalar as ScalarType, v);
  }

  private scalarNotZero(type: ScalarType, v: string): string {
    switch (type) {
      case ScalarType.BOOL:
        return `${v} !== false`;
      case ScalarType.STRING:
        return `${v} !== ""`;
      case ScalarType.BYTES:
        return `(!(${v} instanceof Uint8Array) || ${v}.byteLength > 0)`;
      case ScalarType.DOUBLE:
      case ScalarType.FLOAT:
        return `!Object.is(${v}, 0)`;
      default:
        // Loose, as toBinary compares: 0n, 0 and "0" are all zero.
        return `${v} != 0`;
    }
  }

  /** Tag and value of a singular field (or oneof case) known to be present. */
  private value(field: DescField, v: string): void {
    if (field.fieldKind === "message") {
      if (isUnwrappedField(field)) {
        this.wrapper(field, v);
        return;
      }
      this.child(field.message, field.number, anyField(field).delimitedEncoding === true, v);
      return;
    }
    const type = scalarOf(field);
    this.tag(tagOf(field.number, wireTypeOf(type)));
    this.scalar(type, v);
  }

  /** A singular google.protobuf.*Value field: the local value is the wrapper's scalar. */
  private wrapper(field: DescField, v: string): void {
    const inner = field.message?.fields[0] as DescField;
    const s = this.src;
    const at = this.fresh("s");
    this.tag(tagOf(field.number, WIRE_LEN));
    s.line(`const ${at} = w.fork();`);
    if (inner.presence === FeatureSet_FieldPresence.IMPLICIT) {
      s.open(`if (${this.scalarNotZero(inner.scalar as ScalarType, v)}) {`);
      this.value(inner, v);
      s.close();
    } else {
      this.value(inner, v);
    }
    s.line(`w.join(${at});`);
  }

  private child(desc: DescMessage, fieldNo: number, delimited: boolean, v: string): void {
    const s = this.src;
    const i = this.index.get(desc) as number;
    let call = `e${i}(${v}, w);`;
    if (this.init) {
      // create() converts a plain object (not an array) and keeps a message of the type as it is.
      s.line(`if (${v} === null || typeof ${v} !== "object" || Array.isArray(${v})) D();`);
      call = `if (${v}.$typeName === ${lit(desc.typeName)}) e${i}(${v}, w); else i${i}(${v}, w);`;
    }
    if (delimited) {
      this.tag(tagOf(fieldNo, WIRE_START_GROUP));
      s.line(call);
      this.tag(tagOf(fieldNo, WIRE_END_GROUP));
      return;
    }
    const at = this.fresh("s");
    this.tag(tagOf(fieldNo, WIRE_LEN));
    s.line(`const ${at} = w.fork();`);
    s.line(call);
    s.line(`w.join(${at});`);
  }

  private tag(tag: number): void {
    this.src.line(tag < 0x80 ? `w.byte(${tag});` : `w.uint32(${tag});`);
  }

  /** Checks a scalar's JavaScript type (declining otherwise) and writes it, without a tag. */
  private scalar(type: ScalarType, v: string): void {
    const s = this.src;
    switch (type) {
      case ScalarType.INT32:
        s.line(`if (typeof ${v} !== "number" || (${v} | 0) !== ${v}) D();`);
        s.line(`w.int32(${v});`);
        return;
      case ScalarType.SINT32:
        s.line(`if (typeof ${v} !== "number" || (${v} | 0) !== ${v}) D();`);
        s.line(`w.sint32(${v});`);
        return;
      case ScalarType.SFIXED32:
        s.line(`if (typeof ${v} !== "number" || (${v} | 0) !== ${v}) D();`);
        s.line(`w.fixed32(${v});`);
        return;
      case ScalarType.UINT32:
        s.line(`if (typeof ${v} !== "number" || (${v} >>> 0) !== ${v}) D();`);
        s.line(`w.uint32(${v});`);
        return;
      case ScalarType.FIXED32:
        s.line(`if (typeof ${v} !== "number" || (${v} >>> 0) !== ${v}) D();`);
        s.line(`w.fixed32(${v});`);
        return;
      case ScalarType.BOOL:
        s.line(`if (typeof ${v} !== "boolean") D();`);
        s.line(`w.byte(${v} ? 1 : 0);`);
        return;
      case ScalarType.STRING:
        s.line(`if (typeof ${v} !== "string") D();`);
        s.line(`w.string(${v});`);
        return;
      case ScalarType.BYTES:
        s.line(`if (!(${v} instanceof Uint8Array)) D();`);
        s.line(`w.bytes(${v});`);
        return;
      case ScalarType.DOUBLE:
        s.line(`if (typeof ${v} !== "number") D();`);
        s.line(`w.double(${v});`);
        return;
      case ScalarType.FLOAT:
        // toBinary refuses finite values that are infinite as float32.
        s.line(`if (typeof ${v} !== "number" || (Number.isFinite(${v}) && !Number.isFinite(Math.fround(${v})))) D();`);
        s.line(`w.float(${v});`);
        return;
      case ScalarType.INT64:
        s.line(`w.int64(I64(${v}));`);
        return;
      case ScalarType.SINT64:
        s.line(`w.sint64(I64(${v}));`);
        return;
      case ScalarType.SFIXED64:
        s.line(`w.fixed64(I64(${v}));`);
        return;
      case ScalarType.UINT64:
        s.line(`w.uint64(U64(${v}));`);
        return;
      case ScalarType.FIXED64:
        s.line(`w.fixed64(U64(${v}));`);
        return;
    }
  }

  private list(field: DescField, v: string): void {
    const s = this.src;
    const i = this.fresh("i");
    const x = this.fresh("x");
    // create() makes a missing or null init list empty.
    if (this.init) s.open(`if (${v} != null) {`);
    this.listItems(field, v, i, x);
    if (this.init) s.close();
  }

  private listItems(field: DescField, v: string, i: string, x: string): void {
    const s = this.src;
    s.line(`if (!Array.isArray(${v})) D();`);
    if (anyField(field).listKind === "message") {
      s.open(`for (let ${i} = 0; ${i} < ${v}.length; ${i}++) {`);
      s.line(`const ${x} = ${v}[${i}];`);
      this.child(field.message as DescMessage, field.number, anyField(field).delimitedEncoding === true, x);
      s.close();
      return;
    }
    const type = scalarOf(field);
    if (anyField(field).packed) {
      const at = this.fresh("s");
      s.open(`if (${v}.length > 0) {`);
      this.tag(tagOf(field.number, WIRE_LEN));
      s.line(`const ${at} = w.fork();`);
      s.open(`for (let ${i} = 0; ${i} < ${v}.length; ${i}++) {`);
      s.line(`const ${x} = ${v}[${i}];`);
      this.scalar(type, x);
      s.close();
      s.line(`w.join(${at});`);
      s.close();
      return;
    }
    s.open(`for (let ${i} = 0; ${i} < ${v}.length; ${i}++) {`);
    s.line(`const ${x} = ${v}[${i}];`);
    this.tag(tagOf(field.number, wireTypeOf(type)));
    this.scalar(type, x);
    s.close();
  }

  private map(field: DescField, v: string): void {
    const s = this.src;
    const keys = this.fresh("k");
    const i = this.fresh("i");
    const key = this.fresh("key");
    const x = this.fresh("x");
    const at = this.fresh("s");
    // create() makes a missing or null init map empty (and converts only plain objects).
    if (this.init) s.open(`if (${v} != null) {`);
    s.line(this.init ? `if (typeof ${v} !== "object" || Array.isArray(${v})) D();` : `if (${v} === null || typeof ${v} !== "object") D();`);
    s.line(`const ${keys} = Object.keys(${v});`);
    s.open(`for (let ${i} = 0; ${i} < ${keys}.length; ${i}++) {`);
    s.line(`const ${key} = ${keys}[${i}];`);
    s.line(`const ${x} = ${v}[${key}];`);
    this.tag(tagOf(field.number, WIRE_LEN));
    s.line(`const ${at} = w.fork();`);
    this.mapKey(anyField(field).mapKey as ScalarType, key);
    if (anyField(field).mapKind === "message") {
      // toBinary writes undefined as an empty message; rare enough to leave to it.
      s.line(`if (${x} === undefined) D();`);
      this.child(field.message as DescMessage, 2, false, x);
    } else {
      const type = scalarOf(field);
      this.tag(tagOf(2, wireTypeOf(type)));
      this.scalar(type, x);
    }
    s.line(`w.join(${at});`);
    s.close();
    if (this.init) s.close();
  }

  /** Map keys are object keys (strings), converted the way toBinary converts them. */
  private mapKey(type: ScalarType, key: string): void {
    const s = this.src;
    this.tag(tagOf(1, wireTypeOf(type)));
    switch (type) {
      case ScalarType.STRING:
        s.line(`w.string(${key});`);
        return;
      case ScalarType.BOOL:
        s.line(`if (${key} === "true") w.byte(1); else if (${key} === "false") w.byte(0); else D();`);
        return;
      case ScalarType.INT64:
      case ScalarType.SINT64:
      case ScalarType.SFIXED64:
      case ScalarType.UINT64:
      case ScalarType.FIXED64:
        this.scalar(type, key);
        return;
      default: {
        const n = this.fresh("n");
        s.line(`const ${n} = Number.parseInt(${key});`);
        s.line(`if (!Number.isFinite(${n})) D();`);
        this.scalar(type, n);
      }
    }
  }
}

/**
 * Compiles the encoder of a message type (and of every type it reaches).
 * Throws when the platform refuses `new Function` (a content security
 * policy); callers then use toBinary.
 */
export function compileEncoder(root: DescMessage): Encoders {
  const types = reachableMessages(root);
  const gen = new EncoderGenerator(types);
  const body = gen.generate();
  const factory = new Function("H", "C", body) as (h: typeof helpers, c: unknown[]) => Encoders;
  return factory(helpers, gen.constants.values);
}

/**
 * The generated source of a message type's encoder, the constants it
 * refers to and its helpers: `new Function("H", "C", source)(helpers,
 * constants)` is what {@link compileEncoder} returns (measurements load the
 * same source as a module, as generated code would be).
 */
export function encoderSource(root: DescMessage): { source: string; constants: unknown[]; helpers: unknown } {
  const gen = new EncoderGenerator(reachableMessages(root));
  return { source: gen.generate(), constants: gen.constants.values, helpers };
}
