/**
 * Generates a decoder per message type from its descriptor, the mirror of
 * compile-encoder.ts: one function per reachable message type, built with
 * `new Function`, that reads a message the way `fromBinary` reads it — the
 * same objects (built like `create()` builds them, same prototype for
 * proto2), the same merging of repeated singular messages, map entries,
 * oneofs, closed enums and unknown fields.
 *
 * It reads only well-formed input (see proto-reader.ts): a known field with
 * an unexpected wire type, a value running past its message, a group that
 * does not close, invalid UTF-8 where it is checked, nesting past
 * protobuf-es's recursion limit — all fall back, and the caller decodes the
 * whole input with `fromBinary`.
 */
import { create, mergeFromBinary, ScalarType, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import {
  anyField,
  scalarOf,
  compilable,
  Constants,
  isUnwrappedField,
  lit,
  prop,
  reachableMessages,
  RECURSION_LIMIT,
  Source,
  tagOf,
  WIRE_LEN,
  WIRE_START_GROUP,
  wireTypeOf,
} from "./codegen.js";
import { fallback, type ProtoReader } from "./proto-reader.js";

/** Reads one message from `r.pos` to `r.end` (the root type's decoder). */
export type DecodeFn = (r: ProtoReader) => unknown;

function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") {
    Object.defineProperty(obj, "__proto__", { value, writable: true, enumerable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

/** A message type that is not compiled: read with mergeFromBinary, at the same depth. */
function readDelegated(desc: DescMessage, bytes: Uint8Array, existing: unknown, depth: number): unknown {
  const target = existing === undefined ? create(desc) : existing;
  try {
    mergeFromBinary(desc, target as never, bytes, { recursionLimit: RECURSION_LIMIT - depth + 1 });
  } catch {
    fallback();
  }
  return target;
}

/** How fromBinary keeps an unknown value of a closed enum: the int32 varint of it. */
function enumVarint(value: number): Uint8Array {
  return new BinaryWriter().int32(value).finish();
}

const helpers = { fallback, setOwn, readDelegated, enumVarint, create };

function is64(type: ScalarType): boolean {
  return (
    type === ScalarType.INT64 ||
    type === ScalarType.UINT64 ||
    type === ScalarType.SINT64 ||
    type === ScalarType.FIXED64 ||
    type === ScalarType.SFIXED64
  );
}

function readExpr(type: ScalarType, strict: boolean, longAsString: boolean): string {
  switch (type) {
    case ScalarType.INT32:
      return "r.int32()";
    case ScalarType.UINT32:
      return "r.uint32()";
    case ScalarType.SINT32:
      return "r.sint32()";
    case ScalarType.FIXED32:
      return "r.fixed32()";
    case ScalarType.SFIXED32:
      return "r.sfixed32()";
    case ScalarType.BOOL:
      return "r.bool()";
    case ScalarType.STRING:
      return `r.string(${strict})`;
    case ScalarType.BYTES:
      return "r.bytes()";
    case ScalarType.DOUBLE:
      return "r.double()";
    case ScalarType.FLOAT:
      return "r.float()";
    case ScalarType.INT64:
      return longAsString ? "r.int64String()" : "r.int64()";
    case ScalarType.UINT64:
      return longAsString ? "r.uint64String()" : "r.uint64()";
    case ScalarType.SINT64:
      return longAsString ? "r.sint64String()" : "r.sint64()";
    case ScalarType.FIXED64:
      return longAsString ? "r.fixed64String()" : "r.fixed64()";
    case ScalarType.SFIXED64:
      return longAsString ? "r.sfixed64String()" : "r.sfixed64()";
  }
}

class DecoderGenerator {
  readonly src = new Source();
  readonly constants = new Constants();
  private readonly index = new Map<DescMessage, number>();
  private vars = 0;

  constructor(private readonly types: DescMessage[]) {
    for (const [i, t] of types.entries()) this.index.set(t, i);
  }

  private fresh(prefix: string): string {
    return `${prefix}${this.vars++}`;
  }

  /** A constant as source: literals for plain values, `C[i]` for the rest. */
  private value(v: unknown): string {
    if (typeof v === "string") return lit(v);
    if (typeof v === "boolean") return String(v);
    if (typeof v === "number" && Number.isFinite(v) && !Object.is(v, -0)) return String(v);
    return this.constants.ref(v);
  }

  generate(): string {
    const s = this.src;
    s.line(`"use strict";`);
    s.line(`const F = H.fallback, setOwn = H.setOwn, DEL = H.readDelegated, EV = H.enumVarint, mk = H.create;`);
    this.types.forEach((t, i) => {
      if (compilable(t)) {
        this.creator(t, i);
        const cases = this.cases(t);
        this.reader(t, i, cases, false);
        this.reader(t, i, cases, true);
      } else {
        const c = this.constants.ref(t);
        s.line(`function n${i}() { return mk(${c}); }`);
        s.line(`function d${i}(r, m, depth) { const st = r.pos; r.pos = r.end; return DEL(${c}, r.buf.subarray(st, r.end), m, depth); }`);
        // A group of such a type: where it ends depends on how its fields are read; fromBinary reads it.
        s.line(`function g${i}() { F(); }`);
      }
    });
    s.line(`return (r) => d0(r, undefined, 1);`);
    return s.toString();
  }

  /** `n<i>()`: a new message as create(desc) makes it (same properties, same order, same prototype). */
  private creator(desc: DescMessage, i: number): void {
    const s = this.src;
    const sample = create(desc) as unknown as Record<string, unknown>;
    const proto = Object.getPrototypeOf(sample) as object;
    const parts: [string, string][] = [["$typeName", lit(desc.typeName)]];
    for (const member of desc.members) {
      const name = member.localName;
      if (member.kind === "oneof") {
        parts.push([name, "{ case: undefined }"]);
        continue;
      }
      switch (member.fieldKind) {
        case "message":
          break;
        case "list":
          parts.push([name, "[]"]);
          break;
        case "map":
          parts.push([name, "{}"]);
          break;
        default:
          if (Object.hasOwn(sample, name)) parts.push([name, this.value(sample[name])]);
      }
    }
    if (proto === Object.prototype) {
      s.line(`function n${i}() { return { ${parts.map(([k, v]) => `${lit(k)}: ${v}`).join(", ")} }; }`);
    } else {
      s.open(`function n${i}() {`);
      s.line(`const m = Object.create(${this.constants.ref(proto)});`);
      for (const [k, v] of parts) s.line(`${prop("m", k)} = ${v};`);
      s.line(`return m;`);
      s.close();
    }
  }

  /** `d<i>(r, m, depth)` reads to r.end; `g<i>(r, m, depth, no)` reads a group up to its end tag. */
  private reader(desc: DescMessage, i: number, cases: Source, group: boolean): void {
    const s = this.src;
    s.open(group ? `function g${i}(r, m, depth, no) {` : `function d${i}(r, m, depth) {`);
    s.line(`if (depth > ${RECURSION_LIMIT}) F();`);
    s.line(`if (m === undefined) m = n${i}();`);
    s.line(`let u = m.$unknown;`);
    if (group) {
      s.open(`for (;;) {`);
      s.line(`const t = r.tag();`);
      s.line(`if ((t & 7) === 4) { if ((t >>> 3) !== no) F(); break; }`);
    } else {
      s.open(`while (r.pos < r.end) {`);
      s.line(`const t = r.tag();`);
    }
    s.open(`switch (t) {`);
    s.line(cases.toString());
    s.open(`default: {`);
    s.line(`const no = t >>> 3;`);
    const known = [...new Set(desc.fields.map((f) => f.number))];
    if (known.length > 0) s.line(`switch (no) { ${known.map((n) => `case ${n}:`).join(" ")} F(); }`);
    s.line(`const st = r.pos;`);
    s.line(`r.skip(t & 7, no, ${RECURSION_LIMIT} - depth);`);
    s.line(`if (u === undefined) u = [];`);
    s.line(`u.push({ no: no, wireType: t & 7, data: r.buf.subarray(st, r.pos) });`);
    s.close();
    s.close();
    s.close();
    s.line(`if (u !== undefined && u.length > 0) m.$unknown = u;`);
    s.line(`return m;`);
    s.close();
  }

  private cases(desc: DescMessage): Source {
    const c = new Source();
    for (const field of desc.fields) {
      switch (field.fieldKind) {
        case "scalar":
        case "enum":
          this.singularScalar(c, field);
          break;
        case "message":
          this.singularMessage(c, field);
          break;
        case "list":
          this.list(c, field);
          break;
        case "map":
          this.map(c, field);
          break;
      }
    }
    return c;
  }

  /** Source that stores `expr` as the field's value (in its oneof when it has one). */
  private store(field: DescField, expr: string): string {
    if (field.oneof !== undefined) return `${prop("m", field.oneof.localName)} = { case: ${lit(field.localName)}, value: ${expr} };`;
    return `${prop("m", field.localName)} = ${expr};`;
  }

  private singularScalar(c: Source, field: DescField): void {
    const type = scalarOf(field);
    const tag = tagOf(field.number, wireTypeOf(type));
    if (field.fieldKind === "enum" && !field.enum.open) {
      // Closed enum: values it does not list go to $unknown, as fromBinary keeps them.
      const known = this.constants.ref(new Set(field.enum.values.map((v) => v.number)));
      const x = this.fresh("x");
      const q = this.fresh("q");
      c.open(`case ${tag}: {`);
      c.line(`const ${x} = r.int32();`);
      c.open(`if (${known}.has(${x})) {`);
      c.line(this.store(field, x));
      c.mid(`} else {`);
      c.line(`const ${q} = m.$unknown ?? [];`);
      c.line(`${q}.push({ no: ${field.number}, wireType: 0, data: EV(${x}) });`);
      c.line(`m.$unknown = ${q};`);
      c.close();
      c.line(`break;`);
      c.close();
      return;
    }
    const longAsString = field.fieldKind === "scalar" && field.longAsString;
    c.line(`case ${tag}: ${this.store(field, readExpr(type, field.utf8Validation, longAsString))} break;`);
  }

  /** Reads a length-delimited message into `target`, from `existing` (merge) or a new message. */
  private lengthDelimited(c: Source, desc: DescMessage, existing: string, assign: (expr: string) => string): void {
    const i = this.index.get(desc) as number;
    const len = this.fresh("len");
    const sv = this.fresh("sv");
    c.line(`const ${len} = r.length();`);
    c.line(`const ${sv} = r.end;`);
    c.line(`r.end = r.pos + ${len};`);
    c.line(assign(`d${i}(r, ${existing}, depth + 1)`));
    c.line(`r.end = ${sv};`);
  }

  private singularMessage(c: Source, field: DescField): void {
    const desc = field.message as DescMessage;
    const i = this.index.get(desc) as number;
    const delimited = anyField(field).delimitedEncoding === true;
    const tag = tagOf(field.number, delimited ? WIRE_START_GROUP : WIRE_LEN);
    c.open(`case ${tag}: {`);
    if (isUnwrappedField(field)) {
      // The local value is the wrapper's scalar: read into a wrapper holding it, keep its value.
      const w0 = this.fresh("w");
      const cur = this.fresh("cur");
      const valueName = (desc.fields[0] as DescField).localName;
      c.line(`const ${w0} = n${i}();`);
      c.line(`const ${cur} = ${prop("m", field.localName)};`);
      c.line(`if (${cur} !== undefined) ${prop(w0, valueName)} = ${cur};`);
      if (delimited) {
        c.line(`${prop("m", field.localName)} = ${prop(`g${i}(r, ${w0}, depth + 1, ${field.number})`, valueName)};`);
      } else {
        this.lengthDelimited(c, desc, w0, (e) => `${prop("m", field.localName)} = ${prop(e, valueName)};`);
      }
    } else if (field.oneof !== undefined) {
      const o = this.fresh("o");
      const oneofProp = prop("m", field.oneof.localName);
      c.line(`const ${o} = ${oneofProp};`);
      const existing = `(${o}.case === ${lit(field.localName)} ? ${o}.value : undefined)`;
      if (delimited) {
        c.line(`${oneofProp} = { case: ${lit(field.localName)}, value: g${i}(r, ${existing}, depth + 1, ${field.number}) };`);
      } else {
        this.lengthDelimited(c, desc, existing, (e) => `${oneofProp} = { case: ${lit(field.localName)}, value: ${e} };`);
      }
    } else {
      const target = prop("m", field.localName);
      if (delimited) {
        c.line(`${target} = g${i}(r, ${target}, depth + 1, ${field.number});`);
      } else {
        this.lengthDelimited(c, desc, target, (e) => `${target} = ${e};`);
      }
    }
    c.line(`break;`);
    c.close();
  }

  private list(c: Source, field: DescField): void {
    const target = prop("m", field.localName);
    if (anyField(field).listKind === "message") {
      const desc = field.message as DescMessage;
      const i = this.index.get(desc) as number;
      if (anyField(field).delimitedEncoding === true) {
        c.line(`case ${tagOf(field.number, WIRE_START_GROUP)}: ${target}.push(g${i}(r, undefined, depth + 1, ${field.number})); break;`);
        return;
      }
      c.open(`case ${tagOf(field.number, WIRE_LEN)}: {`);
      this.lengthDelimited(c, desc, "undefined", (e) => `${target}.push(${e});`);
      c.line(`break;`);
      c.close();
      return;
    }
    const type = scalarOf(field);
    const read = readExpr(type, field.utf8Validation, anyField(field).listKind === "scalar" && anyField(field).longAsString === true);
    const wireType = wireTypeOf(type);
    if (wireType === WIRE_LEN) {
      c.line(`case ${tagOf(field.number, WIRE_LEN)}: ${target}.push(${read}); break;`);
      return;
    }
    // Packable: both encodings are read, whatever the field declares.
    c.line(`case ${tagOf(field.number, wireType)}: ${target}.push(${read}); break;`);
    const a = this.fresh("a");
    const len = this.fresh("len");
    const sv = this.fresh("sv");
    c.open(`case ${tagOf(field.number, WIRE_LEN)}: {`);
    c.line(`const ${len} = r.length();`);
    c.line(`const ${sv} = r.end;`);
    c.line(`r.end = r.pos + ${len};`);
    c.line(`const ${a} = ${target};`);
    c.line(`while (r.pos < r.end) ${a}.push(${read});`);
    c.line(`r.end = ${sv};`);
    c.line(`break;`);
    c.close();
  }

  private map(c: Source, field: DescField): void {
    const keyType = anyField(field).mapKey as ScalarType;
    const strict = field.utf8Validation;
    const keyTag = tagOf(1, wireTypeOf(keyType));
    const keyZero = keyType === ScalarType.STRING ? `""` : keyType === ScalarType.BOOL ? "false" : is64(keyType) ? "0n" : "0";
    const key = this.fresh("key");
    const val = this.fresh("val");
    const len = this.fresh("len");
    const sv = this.fresh("sv");
    const t = this.fresh("t");
    let valueTag: number;
    let valueRead: string[];
    let valueDefault: string;
    if (anyField(field).mapKind === "message") {
      const desc = field.message as DescMessage;
      const i = this.index.get(desc) as number;
      valueTag = tagOf(2, WIRE_LEN);
      const vlen = this.fresh("len");
      const vsv = this.fresh("sv");
      valueRead = [
        `const ${vlen} = r.length();`,
        `const ${vsv} = r.end;`,
        `r.end = r.pos + ${vlen};`,
        `${val} = d${i}(r, ${val}, depth + 1);`,
        `r.end = ${vsv};`,
      ];
      valueDefault = `n${i}()`;
    } else {
      const type = scalarOf(field);
      valueTag = tagOf(2, wireTypeOf(type));
      valueRead = [`${val} = ${readExpr(type, strict, false)};`];
      if (anyField(field).mapKind === "enum") valueDefault = String((field.enum?.values[0] as { number: number } | undefined)?.number ?? 0);
      else if (type === ScalarType.BYTES) valueDefault = "new Uint8Array(0)";
      else if (type === ScalarType.STRING) valueDefault = `""`;
      else if (type === ScalarType.BOOL) valueDefault = "false";
      else if (is64(type)) valueDefault = "0n";
      else valueDefault = "0";
    }
    c.open(`case ${tagOf(field.number, WIRE_LEN)}: {`);
    c.line(`const ${len} = r.length();`);
    c.line(`const ${sv} = r.end;`);
    c.line(`r.end = r.pos + ${len};`);
    c.line(`let ${key}, ${val};`);
    c.open(`while (r.pos < r.end) {`);
    c.line(`const ${t} = r.tag();`);
    c.open(`if (${t} === ${keyTag}) {`);
    c.line(`${key} = ${readExpr(keyType, strict, false)};`);
    c.mid(`} else if (${t} === ${valueTag}) {`);
    for (const l of valueRead) c.line(l);
    c.mid(`} else {`);
    // fromBinary reads field 1 and 2 whatever their wire type; other fields are skipped.
    c.line(`if (${t} >>> 3 === 1 || ${t} >>> 3 === 2) F();`);
    c.line(`r.skip(${t} & 7, ${t} >>> 3, ${RECURSION_LIMIT} - depth);`);
    c.close();
    c.close();
    c.line(`r.end = ${sv};`);
    c.line(`if (${key} === undefined) ${key} = ${keyZero};`);
    c.line(`if (${val} === undefined) ${val} = ${valueDefault};`);
    // setOwn: "__proto__" becomes an own property, like any other key.
    c.line(
      `if (${key} === "__proto__") setOwn(${prop("m", field.localName)}, ${key}, ${val}); else ${prop("m", field.localName)}[${key}] = ${val};`,
    );
    c.line(`break;`);
    c.close();
  }
}

/**
 * Compiles the decoder of a message type (and of every type it reaches).
 * Throws when the platform refuses `new Function`; callers then use fromBinary.
 */
export function compileDecoder(root: DescMessage): DecodeFn {
  const gen = new DecoderGenerator(reachableMessages(root));
  const body = gen.generate();
  const factory = new Function("H", "C", body) as (h: typeof helpers, c: unknown[]) => DecodeFn;
  return factory(helpers, gen.constants.values);
}

/** Like encoderSource in compile-encoder.ts, for the decoder. */
export function decoderSource(root: DescMessage): { source: string; constants: unknown[]; helpers: unknown } {
  const gen = new DecoderGenerator(reachableMessages(root));
  return { source: gen.generate(), constants: gen.constants.values, helpers };
}
