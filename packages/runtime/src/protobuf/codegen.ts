/**
 * What the encoder and decoder generators share: which message types they
 * can compile, tags, and how a descriptor's names go into generated source
 * (always as JSON string literals, never as identifiers, so a descriptor
 * cannot inject code).
 */
import { protoInt64, ScalarType, type DescEnum, type DescField, type DescMessage } from "@bufbuild/protobuf";

export const WIRE_VARINT = 0;
export const WIRE_64 = 1;
export const WIRE_LEN = 2;
export const WIRE_START_GROUP = 3;
export const WIRE_END_GROUP = 4;
export const WIRE_32 = 5;

/** protobuf-es's recursion limit for reading (its default `recursionLimit`). */
export const RECURSION_LIMIT = 100;

/** Every property a field descriptor may have, whatever its kind (the generators switch on fieldKind themselves). */
export interface AnyField {
  readonly fieldKind: DescField["fieldKind"];
  readonly listKind?: "scalar" | "enum" | "message";
  readonly mapKind?: "scalar" | "enum" | "message";
  readonly mapKey?: ScalarType;
  readonly scalar?: ScalarType;
  readonly enum?: DescEnum;
  readonly message?: DescMessage;
  readonly packed?: boolean;
  readonly delimitedEncoding?: boolean;
  readonly longAsString?: boolean;
}

/** A field descriptor seen as {@link AnyField}. */
export function anyField(field: DescField): AnyField {
  return field as unknown as AnyField;
}

/** The scalar type a field's values are written as: int32 for enums (and lists and maps of them). */
export function scalarOf(field: DescField): ScalarType {
  if (
    field.fieldKind === "enum" ||
    (field.fieldKind === "list" && anyField(field).listKind === "enum") ||
    (field.fieldKind === "map" && anyField(field).mapKind === "enum")
  ) {
    return ScalarType.INT32;
  }
  return field.scalar as ScalarType;
}

/** The tag of a field number and wire type, as an unsigned 32-bit number. */
export function tagOf(fieldNo: number, wireType: number): number {
  return ((fieldNo << 3) | wireType) >>> 0;
}

/** A string as a JavaScript string literal. */
export function lit(s: string): string {
  return JSON.stringify(s);
}

/** `obj[name]` with the name quoted. */
export function prop(obj: string, name: string): string {
  return `${obj}[${lit(name)}]`;
}

/** The wire type a scalar is written with (outside packed lists). */
export function wireTypeOf(type: ScalarType): number {
  switch (type) {
    case ScalarType.BYTES:
    case ScalarType.STRING:
      return WIRE_LEN;
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return WIRE_64;
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
    case ScalarType.FLOAT:
      return WIRE_32;
    default:
      return WIRE_VARINT;
  }
}

/** True for the google.protobuf wrapper messages that protobuf-es unwraps in singular fields. */
export function isWrapper(desc: DescMessage): boolean {
  const f = desc.fields[0];
  return WRAPPERS.has(desc.typeName) && f !== undefined && f.fieldKind === "scalar" && f.name === "value" && f.number === 1;
}

const WRAPPERS = new Set([
  "google.protobuf.DoubleValue",
  "google.protobuf.FloatValue",
  "google.protobuf.Int64Value",
  "google.protobuf.UInt64Value",
  "google.protobuf.Int32Value",
  "google.protobuf.UInt32Value",
  "google.protobuf.BoolValue",
  "google.protobuf.StringValue",
  "google.protobuf.BytesValue",
]);

/** A singular message field whose local value is the wrapper's scalar (protobuf-es unwraps these). */
export function isUnwrappedField(field: DescField): boolean {
  return field.fieldKind === "message" && field.oneof === undefined && isWrapper(field.message);
}

/** A field whose values protobuf-es keeps as JSON (google.protobuf.Struct outside google.protobuf.Value). */
function usesJson(field: DescField): boolean {
  return (
    field.message !== undefined && field.message.typeName === "google.protobuf.Struct" && field.parent.typeName !== "google.protobuf.Value"
  );
}

/**
 * True when the generators compile this message type's own fields. A type
 * with a field that protobuf-es keeps as JSON (google.protobuf.Struct) is
 * not compiled: messages of it go through toBinary / mergeFromBinary, even
 * inside compiled messages. Without BigInt, nothing is compiled.
 */
export function compilable(desc: DescMessage): boolean {
  if (!protoInt64.supported) return false;
  return !desc.fields.some(usesJson);
}

/** Message types reachable from `root` through fields, `root` first; each appears once. */
export function reachableMessages(root: DescMessage): DescMessage[] {
  const seen = new Set<DescMessage>([root]);
  const out: DescMessage[] = [root];
  for (let i = 0; i < out.length; i++) {
    const desc = out[i] as DescMessage;
    if (!compilable(desc)) continue;
    for (const f of desc.fields) {
      const m = f.message;
      if (m !== undefined && !seen.has(m)) {
        seen.add(m);
        out.push(m);
      }
    }
  }
  return out;
}

/** Fields in ascending number order: the order protobuf-es writes them in. */
export function sortedFields(desc: DescMessage): DescField[] {
  return desc.fields.concat().sort((a, b) => a.number - b.number);
}

/** Builds generated source line by line. */
export class Source {
  private readonly lines: string[] = [];
  private depth = 0;

  line(text: string): this {
    this.lines.push("  ".repeat(this.depth) + text);
    return this;
  }

  open(text: string): this {
    this.line(text);
    this.depth++;
    return this;
  }

  /** A line between two blocks, such as `} else {`. */
  mid(text: string): this {
    this.depth--;
    this.line(text);
    this.depth++;
    return this;
  }

  close(text = "}"): this {
    this.depth--;
    return this.line(text);
  }

  toString(): string {
    return this.lines.join("\n");
  }
}

/** Names constants handed to generated code as `C[i]` (objects, sets, bigints it cannot spell). */
export class Constants {
  readonly values: unknown[] = [];

  ref(value: unknown): string {
    let i = this.values.indexOf(value);
    if (i < 0) {
      i = this.values.length;
      this.values.push(value);
    }
    return `C[${i}]`;
  }
}
