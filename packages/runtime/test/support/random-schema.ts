/**
 * Random protobuf schemas, messages and wire bytes for the codec property
 * tests: FileDescriptorProtos in proto2, proto3 and edition 2023 with every
 * field type protobuf-es knows (64-bit integers with jstype, groups and
 * delimited messages, closed and open enums, maps, oneofs, proto3 optional,
 * required, defaults, packed and expanded lists, well-known types), turned
 * into descriptors with createFileRegistry; messages built from them with
 * create(); and raw wire records that a schema may or may not expect.
 */
import { create, createFileRegistry, ScalarType, type DescField, type DescMessage, type Message } from "@bufbuild/protobuf";
import {
  DescriptorProtoSchema,
  EnumDescriptorProtoSchema,
  FeatureSet_EnumType,
  FeatureSet_FieldPresence,
  FeatureSet_MessageEncoding,
  FeatureSet_RepeatedFieldEncoding,
  FeatureSet_Utf8Validation,
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FieldDescriptorProtoSchema,
  FieldOptions_JSType,
  FileDescriptorProtoSchema,
  file_google_protobuf_any,
  file_google_protobuf_duration,
  file_google_protobuf_empty,
  file_google_protobuf_field_mask,
  file_google_protobuf_struct,
  file_google_protobuf_timestamp,
  file_google_protobuf_wrappers,
  Edition,
  type DescriptorProto,
  type FieldDescriptorProto,
  type FileDescriptorProto,
} from "@bufbuild/protobuf/wkt";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import fc from "fast-check";

export type Syntax = "proto2" | "proto3" | "editions";

const WKT_FILES = [
  file_google_protobuf_any,
  file_google_protobuf_duration,
  file_google_protobuf_empty,
  file_google_protobuf_field_mask,
  file_google_protobuf_struct,
  file_google_protobuf_timestamp,
  file_google_protobuf_wrappers,
];

const WKT_TYPES = [
  ".google.protobuf.Timestamp",
  ".google.protobuf.Duration",
  ".google.protobuf.Any",
  ".google.protobuf.Empty",
  ".google.protobuf.FieldMask",
  ".google.protobuf.Struct",
  ".google.protobuf.Value",
  ".google.protobuf.ListValue",
  ".google.protobuf.DoubleValue",
  ".google.protobuf.FloatValue",
  ".google.protobuf.Int64Value",
  ".google.protobuf.UInt64Value",
  ".google.protobuf.Int32Value",
  ".google.protobuf.UInt32Value",
  ".google.protobuf.BoolValue",
  ".google.protobuf.StringValue",
  ".google.protobuf.BytesValue",
];

const T = FieldDescriptorProto_Type;
const SCALAR_TYPES = [
  T.DOUBLE,
  T.FLOAT,
  T.INT64,
  T.UINT64,
  T.INT32,
  T.FIXED64,
  T.FIXED32,
  T.BOOL,
  T.STRING,
  T.BYTES,
  T.UINT32,
  T.SFIXED32,
  T.SFIXED64,
  T.SINT32,
  T.SINT64,
];
const MAP_KEY_TYPES = [
  T.INT64,
  T.UINT64,
  T.INT32,
  T.FIXED64,
  T.FIXED32,
  T.BOOL,
  T.STRING,
  T.UINT32,
  T.SFIXED32,
  T.SFIXED64,
  T.SINT32,
  T.SINT64,
];
const LONG_TYPES = new Set([T.INT64, T.UINT64, T.FIXED64, T.SFIXED64, T.SINT64]);

/** A plan for one field, drawn by fast-check and turned into a FieldDescriptorProto. */
interface FieldPlan {
  kind: "scalar" | "enum" | "message" | "wkt" | "map" | "group";
  scalar: FieldDescriptorProto_Type;
  target: number;
  wkt: number;
  label: "single" | "repeated" | "required" | "optional3";
  oneof: number;
  jstype: number;
  packed: number;
  presence: number;
  delimited: boolean;
  utf8: number;
  withDefault: boolean;
  mapKey: FieldDescriptorProto_Type;
  mapValue: "scalar" | "enum" | "message";
  number: number;
}

const fieldPlan: fc.Arbitrary<FieldPlan> = fc.record({
  kind: fc.constantFrom("scalar", "scalar", "scalar", "enum", "message", "wkt", "map", "group"),
  scalar: fc.constantFrom(...SCALAR_TYPES),
  target: fc.nat(10),
  wkt: fc.nat(WKT_TYPES.length - 1),
  label: fc.constantFrom("single", "single", "single", "repeated", "repeated", "required", "optional3"),
  oneof: fc.integer({ min: -3, max: 1 }),
  jstype: fc.constantFrom(0, 0, 1, 2),
  packed: fc.constantFrom(0, 0, 1, 2),
  presence: fc.constantFrom(0, 0, 1, 2, 3),
  delimited: fc.boolean(),
  utf8: fc.constantFrom(0, 0, 1, 2),
  withDefault: fc.boolean(),
  mapKey: fc.constantFrom(...MAP_KEY_TYPES),
  mapValue: fc.constantFrom("scalar", "enum", "message"),
  number: fc.oneof(
    fc.integer({ min: 1, max: 20 }),
    fc.integer({ min: 1, max: 2000 }),
    fc.constant(536870911),
    fc.integer({ min: 19000, max: 19999 }),
  ),
});

export interface SchemaPlan {
  syntax: Syntax;
  messages: FieldPlan[][];
  enumValues: number[][];
}

export const schemaPlan: fc.Arbitrary<SchemaPlan> = fc.record({
  syntax: fc.constantFrom<Syntax>("proto2", "proto3", "editions"),
  messages: fc.array(fc.array(fieldPlan, { maxLength: 9 }), { minLength: 1, maxLength: 4 }),
  enumValues: fc.array(fc.uniqueArray(fc.integer({ min: -5, max: 300 }), { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 2 }),
});

function defaultFor(type: FieldDescriptorProto_Type, enumValue: string): string | undefined {
  switch (type) {
    case T.DOUBLE:
      return "-inf";
    case T.FLOAT:
      return "1.5";
    case T.INT64:
    case T.SFIXED64:
    case T.SINT64:
      return "-9007199254740993";
    case T.UINT64:
    case T.FIXED64:
      return "18446744073709551615";
    case T.INT32:
    case T.SINT32:
    case T.SFIXED32:
      return "-7";
    case T.UINT32:
    case T.FIXED32:
      return "7";
    case T.BOOL:
      return "true";
    case T.STRING:
      return "dflt";
    case T.BYTES:
      return "\\001x";
    case T.ENUM:
      return enumValue;
    default:
      return undefined;
  }
}

/** Builds a FileDescriptorProto from a plan, skipping what the syntax does not allow. */
export function buildFile(plan: SchemaPlan, name = "random.proto"): FileDescriptorProto {
  const pkg = "rnd";
  const syntax = plan.syntax;
  const enums = plan.enumValues.map((values, i) => {
    // proto3 enums start at 0; edition 2023 open enums too.
    const nums = syntax === "proto2" ? values : [0, ...values.filter((v) => v !== 0)];
    const proto = create(EnumDescriptorProtoSchema, {
      name: `E${i}`,
      value: nums.map((n, j) => ({ name: `E${i}_V${j}`, number: n })),
    });
    if (syntax === "editions" && i === 1) {
      // A closed enum in an editions file (its first value may be anything then).
      proto.options = {
        $typeName: "google.protobuf.EnumOptions",
        features: { $typeName: "google.protobuf.FeatureSet", enumType: FeatureSet_EnumType.CLOSED },
      } as never;
    }
    return proto;
  });
  const messageCount = plan.messages.length;
  const messages: DescriptorProto[] = plan.messages.map((_, i) => create(DescriptorProtoSchema, { name: `M${i}` }));
  plan.messages.forEach((fields, mi) => {
    const msg = messages[mi] as DescriptorProto;
    const used = new Set<number>();
    const oneofs = new Map<number, number>();
    for (const [fi, f] of fields.entries()) {
      if (used.has(f.number)) continue;
      used.add(f.number);
      const field = create(FieldDescriptorProtoSchema, { name: `f${fi}_${f.number}`, number: f.number, jsonName: `f${fi}${f.number}` });
      let label = f.label;
      if (label === "required" && syntax === "proto3") label = "single";
      if (label === "optional3" && syntax !== "proto3") label = "single";
      const allowOneof = (label === "single" || label === "optional3") && f.kind !== "map";
      switch (f.kind) {
        case "scalar":
          field.type = f.scalar;
          if (LONG_TYPES.has(f.scalar) && f.jstype !== 0) {
            field.options = {
              $typeName: "google.protobuf.FieldOptions",
              jstype: f.jstype === 1 ? FieldOptions_JSType.JS_STRING : FieldOptions_JSType.JS_NUMBER,
            } as never;
          }
          break;
        case "enum": {
          const e = f.target % enums.length;
          // proto3 files cannot use closed enums; editions' closed enum needs explicit presence.
          field.type = T.ENUM;
          field.typeName = `.${pkg}.E${e}`;
          break;
        }
        case "message":
          field.type = T.MESSAGE;
          field.typeName = `.${pkg}.M${f.target % messageCount}`;
          break;
        case "group":
          field.typeName = `.${pkg}.M${f.target % messageCount}`;
          if (syntax === "proto2") {
            field.type = T.GROUP;
          } else {
            field.type = T.MESSAGE;
            if (syntax === "editions") mergeFeatures(field, { messageEncoding: FeatureSet_MessageEncoding.DELIMITED });
          }
          break;
        case "wkt":
          field.type = T.MESSAGE;
          field.typeName = WKT_TYPES[f.wkt] as string;
          break;
        case "map": {
          const entryName = `F${fi}Entry`;
          const value = create(FieldDescriptorProtoSchema, {
            name: "value",
            number: 2,
            jsonName: "value",
            label: FieldDescriptorProto_Label.OPTIONAL,
          });
          if (f.mapValue === "scalar") value.type = f.scalar;
          else if (f.mapValue === "enum") {
            // Map values of closed enums are legal; keep to the open ones for proto3.
            value.type = T.ENUM;
            value.typeName = `.${pkg}.E${syntax === "proto3" ? 0 : f.target % enums.length}`;
          } else {
            value.type = T.MESSAGE;
            value.typeName = f.target % 3 === 0 ? (WKT_TYPES[f.wkt] as string) : `.${pkg}.M${f.target % messageCount}`;
          }
          const entry = create(DescriptorProtoSchema, {
            name: entryName,
            field: [
              create(FieldDescriptorProtoSchema, {
                name: "key",
                number: 1,
                jsonName: "key",
                label: FieldDescriptorProto_Label.OPTIONAL,
                type: f.mapKey,
              }),
              value,
            ],
            options: { mapEntry: true },
          });
          msg.nestedType.push(entry);
          field.type = T.MESSAGE;
          field.typeName = `.${pkg}.M${mi}.${entryName}`;
          label = "repeated";
          if (f.utf8 !== 0 && syntax === "editions") {
            mergeFeatures(field, { utf8Validation: f.utf8 === 1 ? FeatureSet_Utf8Validation.NONE : FeatureSet_Utf8Validation.VERIFY });
          }
          break;
        }
      }
      if (syntax === "proto3" && field.type === T.ENUM && field.typeName === `.${pkg}.E1`) field.typeName = `.${pkg}.E0`;
      field.label =
        label === "repeated"
          ? FieldDescriptorProto_Label.REPEATED
          : label === "required"
            ? FieldDescriptorProto_Label.REQUIRED
            : FieldDescriptorProto_Label.OPTIONAL;
      if (label === "required" && syntax === "editions") {
        field.label = FieldDescriptorProto_Label.OPTIONAL;
        mergeFeatures(field, { fieldPresence: FeatureSet_FieldPresence.LEGACY_REQUIRED });
      }
      const isScalarLike = field.type !== T.MESSAGE && field.type !== T.GROUP;
      if (field.type === T.GROUP && label === "optional3") label = "single";
      if (label === "repeated" && isScalarLike && field.type !== T.STRING && field.type !== T.BYTES) {
        if (f.packed === 1) field.options = { ...(field.options ?? { $typeName: "google.protobuf.FieldOptions" }), packed: true } as never;
        if (f.packed === 2 && syntax !== "editions")
          field.options = { ...(field.options ?? { $typeName: "google.protobuf.FieldOptions" }), packed: false } as never;
        if (f.packed === 2 && syntax === "editions")
          mergeFeatures(field, { repeatedFieldEncoding: FeatureSet_RepeatedFieldEncoding.EXPANDED });
      }
      if (syntax === "editions" && label === "single" && isScalarLike && f.presence !== 0) {
        const closedEnum = field.type === T.ENUM && field.typeName === `.${pkg}.E1`;
        const presence = f.presence === 1 && !closedEnum ? FeatureSet_FieldPresence.IMPLICIT : FeatureSet_FieldPresence.EXPLICIT;
        mergeFeatures(field, { fieldPresence: presence });
      }
      if (syntax === "editions" && field.type === T.STRING && f.utf8 !== 0) {
        mergeFeatures(field, { utf8Validation: f.utf8 === 1 ? FeatureSet_Utf8Validation.NONE : FeatureSet_Utf8Validation.VERIFY });
      }
      if (syntax === "proto2" && label !== "repeated" && isScalarLike && f.withDefault) {
        const e = enums[Number(field.typeName.slice(`.${pkg}.E`.length)) || 0];
        const d = defaultFor(field.type, e?.value[0]?.name ?? "");
        if (d !== undefined) field.defaultValue = d;
      }
      if (label === "optional3" && field.type !== T.MESSAGE) {
        field.proto3Optional = true;
        field.oneofIndex = msg.oneofDecl.length;
        msg.oneofDecl.push({ $typeName: "google.protobuf.OneofDescriptorProto", name: `_${field.name}` } as never);
      } else if (allowOneof && label !== "required" && f.oneof >= 0 && !(syntax === "editions" && field.options?.features?.fieldPresence)) {
        let index = oneofs.get(f.oneof);
        if (index === undefined) {
          index = msg.oneofDecl.length;
          oneofs.set(f.oneof, index);
          msg.oneofDecl.push({ $typeName: "google.protobuf.OneofDescriptorProto", name: `o${f.oneof}` } as never);
        }
        field.oneofIndex = index;
      }
      msg.field.push(field);
    }
  });
  // Synthetic oneofs must come after real ones: reorder indices.
  for (const msg of messages) reorderSyntheticOneofs(msg);
  const file = create(FileDescriptorProtoSchema, {
    name,
    package: pkg,
    dependency: WKT_FILES.map((f) => f.proto.name),
    messageType: messages,
    enumType: enums,
  });
  if (syntax === "proto3") file.syntax = "proto3";
  else if (syntax === "editions") {
    file.syntax = "editions";
    file.edition = Edition.EDITION_2023;
  } else file.syntax = "proto2";
  return file;
}

function mergeFeatures(field: FieldDescriptorProto, features: Record<string, unknown>): void {
  const options = (field.options ?? { $typeName: "google.protobuf.FieldOptions" }) as unknown as Record<string, unknown>;
  options.features = { $typeName: "google.protobuf.FeatureSet", ...((options.features as object | undefined) ?? {}), ...features };
  field.options = options as never;
}

function reorderSyntheticOneofs(msg: DescriptorProto): void {
  const synthetic = new Set(msg.field.filter((f) => f.proto3Optional).map((f) => f.oneofIndex));
  const order = msg.oneofDecl.map((_, i) => i).sort((a, b) => Number(synthetic.has(a)) - Number(synthetic.has(b)));
  const remap = new Map(order.map((old, i) => [old, i]));
  msg.oneofDecl = order.map((i) => msg.oneofDecl[i]) as DescriptorProto["oneofDecl"];
  for (const f of msg.field) {
    if (f.oneofIndex !== undefined && Object.hasOwn(f, "oneofIndex")) f.oneofIndex = remap.get(f.oneofIndex) as number;
  }
}

/** The descriptors of a plan's messages, or undefined when protobuf-es refuses the file. */
export function buildSchema(plan: SchemaPlan): DescMessage[] | undefined {
  const file = buildFile(plan);
  try {
    const registry = createFileRegistry(file, (n) => WKT_FILES.find((f) => f.proto.name === n));
    const out: DescMessage[] = [];
    for (let i = 0; i < plan.messages.length; i++) {
      const m = registry.getMessage(`rnd.M${i}`);
      if (m !== undefined) out.push(m);
    }
    return out;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------
// Messages

const INT32 = fc.oneof(fc.constant(0), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.integer({ min: -200, max: 200 }));
const UINT32 = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 0, max: 300 }));
const INT64 = fc.oneof(
  fc.constant(0n),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.bigInt({ min: -300n, max: 300n }),
  fc.bigInt({ min: -(2n ** 54n), max: 2n ** 54n }),
);
const UINT64 = fc.oneof(
  fc.constant(0n),
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  fc.bigInt({ min: 0n, max: 300n }),
  fc.bigInt({ min: 2n ** 52n, max: 2n ** 54n }),
);
const STRING = fc.oneof(
  fc.constant(""),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 90 }),
  fc.string({ minLength: 60, maxLength: 200 }),
);
const BYTES = fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ maxLength: 20 }), fc.uint8Array({ minLength: 120, maxLength: 300 }));
const DOUBLE = fc.oneof(fc.constant(0), fc.constant(-0), fc.double(), fc.constantFrom(NaN, Infinity, -Infinity, 1.5));
const FLOAT = fc.oneof(fc.constant(0), fc.constant(-0), fc.float(), fc.constantFrom(NaN, Infinity, -Infinity, 3.25));

function scalarArb(type: ScalarType, longAsString: boolean): fc.Arbitrary<unknown> {
  switch (type) {
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return INT32;
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return UINT32;
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return longAsString ? INT64.map(String) : INT64;
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return longAsString ? UINT64.map(String) : UINT64;
    case ScalarType.BOOL:
      return fc.boolean();
    case ScalarType.STRING:
      return STRING;
    case ScalarType.BYTES:
      return BYTES;
    case ScalarType.DOUBLE:
      return DOUBLE;
    case ScalarType.FLOAT:
      return FLOAT;
  }
}

function mapKeyArb(type: ScalarType): fc.Arbitrary<string> {
  switch (type) {
    case ScalarType.BOOL:
      return fc.constantFrom("true", "false");
    case ScalarType.STRING:
      return fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom("__proto__", "constructor", "1", "01", ""));
    default:
      return (scalarArb(type, false) as fc.Arbitrary<number | bigint>).map(String);
  }
}

const JSON_VALUE: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.string({ maxLength: 6 }),
    fc.array(tie("value"), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 4 }), tie("value"), { maxKeys: 3 }),
  ),
})).value;
const JSON_OBJECT = fc.dictionary(fc.string({ maxLength: 5 }), JSON_VALUE, { maxKeys: 4 });

function enumArb(field: DescField): fc.Arbitrary<number> {
  const values = (field.enum?.values ?? []).map((v) => v.number);
  return fc.oneof(fc.constantFrom(...values), fc.integer({ min: -3, max: 400 }));
}

function singularArb(field: DescField, depth: number): fc.Arbitrary<unknown> | undefined {
  switch (field.fieldKind) {
    case "scalar":
      return scalarArb(field.scalar, field.longAsString);
    case "enum":
      return enumArb(field);
    case "message": {
      const m = field.message;
      if (m.typeName === "google.protobuf.Struct" && field.parent.typeName !== "google.protobuf.Value") return JSON_OBJECT;
      if (field.oneof === undefined && isWrapperName(m.typeName)) {
        const inner = m.fields[0] as DescField & { fieldKind: "scalar" };
        return scalarArb(inner.scalar, false);
      }
      if (depth >= 3) return undefined;
      return nestedArb(m, depth + 1);
    }
    default:
      return undefined;
  }
}

function isWrapperName(name: string): boolean {
  return /^google\.protobuf\.(Double|Float|Int64|UInt64|Int32|UInt32|Bool|String|Bytes)Value$/.test(name);
}

/** Arbitrary unknown fields for numbers the message does not use. */
function unknownArb(desc: DescMessage): fc.Arbitrary<{ no: number; wireType: number; data: Uint8Array }[]> {
  const used = new Set(desc.fields.map((f) => f.number));
  const record = fc
    .tuple(
      fc.integer({ min: 1, max: 3000 }),
      fc.constantFrom(0, 1, 2, 5),
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      fc.uint8Array({ maxLength: 10 }),
    )
    .filter(([no]) => !used.has(no))
    .map(([no, wireType, n, bytes]) => {
      const w = new BinaryWriter();
      if (wireType === 0) w.uint64(n);
      else if (wireType === 1) w.fixed64(n);
      else if (wireType === 5) w.fixed32(Number(n & 0xffffffffn));
      else w.bytes(bytes);
      return { no, wireType, data: w.finish() };
    });
  return fc.array(record, { maxLength: 3 });
}

/** A nested message value in an init object: a plain init object (create() converts it) or a message. */
function nestedArb(desc: DescMessage, depth: number): fc.Arbitrary<unknown> {
  return fc.oneof(initArb(desc, depth), messageArb(desc, depth));
}

const initArbs = new WeakMap<DescMessage, Map<number, fc.Arbitrary<Record<string, unknown>>>>();
const messageArbs = new WeakMap<DescMessage, Map<number, fc.Arbitrary<Message>>>();

function cache<T>(store: WeakMap<DescMessage, Map<number, T>>, desc: DescMessage, depth: number, make: () => T): T {
  let byDepth = store.get(desc);
  if (byDepth === undefined) {
    byDepth = new Map();
    store.set(desc, byDepth);
  }
  let value = byDepth.get(depth);
  if (value === undefined) {
    value = make();
    byDepth.set(depth, value);
  }
  return value;
}

/** An arbitrary message of `desc` built with create() from a random init object, sometimes with unknown fields. */
export function messageArb(desc: DescMessage, depth = 0): fc.Arbitrary<Message> {
  return cache(messageArbs, desc, depth, () =>
    fc.tuple(initArb(desc, depth), unknownArb(desc), fc.boolean()).map(([init, unknown, withUnknown]) => {
      const m = create(desc, init as never) as Message & { $unknown?: unknown };
      if (withUnknown && unknown.length > 0) m.$unknown = unknown;
      return m as Message;
    }),
  );
}

/** An arbitrary init object of `desc` (what a handler returns): plain values, nested inits or messages. */
export function initArb(desc: DescMessage, depth = 0): fc.Arbitrary<Record<string, unknown>> {
  return cache(initArbs, desc, depth, () => makeInitArb(desc, depth));
}

function makeInitArb(desc: DescMessage, depth: number): fc.Arbitrary<Record<string, unknown>> {
  const parts: Record<string, fc.Arbitrary<unknown>> = {};
  const optional: string[] = [];
  for (const member of desc.members) {
    if (member.kind === "oneof") {
      const cases = member.fields.flatMap((f) => {
        const a = singularArb(f, depth);
        return a === undefined ? [] : [a.map((value) => ({ case: f.localName, value }))];
      });
      parts[member.localName] = fc.oneof(fc.constant({ case: undefined }), ...cases);
      continue;
    }
    const field = member;
    let arb: fc.Arbitrary<unknown> | undefined;
    if (field.fieldKind === "list") {
      let item: fc.Arbitrary<unknown> | undefined;
      if (field.listKind === "scalar") item = scalarArb(field.scalar, field.longAsString);
      else if (field.listKind === "enum") item = enumArb(field);
      else if (field.message.typeName === "google.protobuf.Struct" && field.parent.typeName !== "google.protobuf.Value") item = JSON_OBJECT;
      else if (depth < 3) item = nestedArb(field.message, depth + 1);
      if (item !== undefined) arb = fc.array(item, { maxLength: depth === 0 ? 4 : 2 });
    } else if (field.fieldKind === "map") {
      let value: fc.Arbitrary<unknown> | undefined;
      if (field.mapKind === "scalar") value = scalarArb(field.scalar, false);
      else if (field.mapKind === "enum") value = enumArb(field);
      else if (field.message.typeName === "google.protobuf.Struct") value = JSON_OBJECT;
      else if (depth < 3) value = nestedArb(field.message, depth + 1);
      if (value !== undefined) arb = fc.dictionary(mapKeyArb(field.mapKey), value, { maxKeys: 3 });
    } else {
      arb = singularArb(field, depth);
    }
    if (arb === undefined) continue;
    parts[field.localName] = arb;
    // Required fields are mostly set (toBinary refuses a message without them).
    if (field.presence === FeatureSet_FieldPresence.LEGACY_REQUIRED)
      parts[field.localName] = fc.oneof({ weight: 9, arbitrary: arb }, { weight: 1, arbitrary: fc.constant(undefined) });
    else optional.push(field.localName);
  }
  return fc.record(parts, { requiredKeys: Object.keys(parts).filter((k) => !optional.includes(k)) }) as fc.Arbitrary<
    Record<string, unknown>
  >;
}

// ---------------------------------------------------------------------------
// Raw wire bytes

/** Random wire records for `desc`: mostly what it expects, sometimes not (wrong wire types, odd varints, groups, garbage). */
export function wireArb(desc: DescMessage, depth = 0): fc.Arbitrary<Uint8Array> {
  const fields = desc.fields;
  const record: fc.Arbitrary<(w: BinaryWriter) => void> = fc.oneof(
    { weight: 6, arbitrary: fields.length === 0 ? fc.constant(() => {}) : fc.constantFrom(...fields).chain((f) => knownRecord(f, depth)) },
    { weight: 1, arbitrary: anyRecord(fields.map((f) => f.number)) },
  );
  return fc.array(record, { maxLength: depth === 0 ? 8 : 3 }).map((records) => {
    const w = new BinaryWriter();
    for (const r of records) r(w);
    return w.finish();
  });
}

/** A varint, sometimes longer than it needs to be. */
function varint(w: BinaryWriter, value: bigint, padded: number): void {
  let v = BigInt.asUintN(64, value);
  const bytes: number[] = [];
  do {
    bytes.push(Number(v & 0x7fn));
    v >>= 7n;
  } while (v > 0n);
  for (let i = 0; i < padded && bytes.length < 10; i++) bytes.push(0);
  for (let i = 0; i < bytes.length - 1; i++) bytes[i] = (bytes[i] as number) | 0x80;
  w.raw(new Uint8Array(bytes));
}

const varintValue = fc.oneof(
  fc.bigInt({ min: 0n, max: 300n }),
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  fc.bigInt({ min: -(2n ** 31n), max: -1n }),
  fc.constantFrom(0n, 1n, 2n ** 32n - 1n, 2n ** 31n, 2n ** 63n),
);
const padding = fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 4 }) });
const utf8ish = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 20 }).map((s) => new TextEncoder().encode(s)),
  fc.uint8Array({ maxLength: 12 }),
  fc.constantFrom(new Uint8Array([0xef, 0xbb, 0xbf, 0x41]), new Uint8Array([0xc3]), new Uint8Array([0xed, 0xa0, 0x80])),
);

function valueFor(
  type: ScalarType | "enum",
  wireType: number,
  depth: number,
  message?: DescMessage,
): fc.Arbitrary<(w: BinaryWriter) => void> {
  switch (wireType) {
    case 0:
      return fc.tuple(varintValue, padding).map(
        ([v, p]) =>
          (w: BinaryWriter) =>
            varint(w, v, p),
      );
    case 1:
      return fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((v) => (w: BinaryWriter) => void w.fixed64(v));
    case 5:
      return fc.integer({ min: 0, max: 2 ** 32 - 1 }).map((v) => (w: BinaryWriter) => void w.fixed32(v));
    default:
      if (message !== undefined && depth < 3) return wireArb(message, depth + 1).map((b) => (w: BinaryWriter) => void w.bytes(b));
      if (type === ScalarType.STRING) return utf8ish.map((b) => (w: BinaryWriter) => void w.bytes(b));
      return fc.uint8Array({ maxLength: 16 }).map((b) => (w: BinaryWriter) => void w.bytes(b));
  }
}

function expectedWireType(type: ScalarType): number {
  switch (type) {
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return 2;
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return 1;
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return 5;
    default:
      return 0;
  }
}

function knownRecord(field: DescField, depth: number): fc.Arbitrary<(w: BinaryWriter) => void> {
  const no = field.number;
  const wrongWireType = fc.constantFrom(0, 1, 2, 5).chain((wt) =>
    valueFor(ScalarType.BYTES, wt, depth).map((v) => (w: BinaryWriter) => {
      w.tag(no, wt);
      v(w);
    }),
  );
  let right: fc.Arbitrary<(w: BinaryWriter) => void>;
  switch (field.fieldKind) {
    case "scalar":
    case "enum": {
      const type = field.fieldKind === "enum" ? ScalarType.INT32 : field.scalar;
      const wt = expectedWireType(type);
      right = valueFor(type, wt, depth).map((v) => (w: BinaryWriter) => {
        w.tag(no, wt);
        v(w);
      });
      break;
    }
    case "message":
      right = messageRecord(no, field.message, field.delimitedEncoding, depth);
      break;
    case "list": {
      if (field.listKind === "message") {
        right = messageRecord(no, field.message, field.delimitedEncoding, depth);
        break;
      }
      const type = field.listKind === "enum" ? ScalarType.INT32 : field.scalar;
      const wt = expectedWireType(type);
      const single = valueFor(type, wt, depth).map((v) => (w: BinaryWriter) => {
        w.tag(no, wt);
        v(w);
      });
      if (wt === 2) {
        right = single;
        break;
      }
      const packed = fc.array(valueFor(type, wt, depth), { maxLength: 4 }).map((vs) => (w: BinaryWriter) => {
        const inner = new BinaryWriter();
        for (const v of vs) v(inner);
        w.tag(no, 2).bytes(inner.finish());
      });
      right = fc.oneof(single, packed);
      break;
    }
    case "map": {
      const keyType = field.mapKey;
      const keyWt = expectedWireType(keyType);
      const valueType = field.mapKind === "scalar" ? field.scalar : ScalarType.INT32;
      const valueWt = field.mapKind === "message" ? 2 : expectedWireType(valueType);
      const entryRecord = fc.oneof(
        valueFor(keyType, keyWt, depth).map((v) => (w: BinaryWriter) => {
          w.tag(1, keyWt);
          v(w);
        }),
        valueFor(valueType, valueWt, depth, field.mapKind === "message" ? field.message : undefined).map((v) => (w: BinaryWriter) => {
          w.tag(2, valueWt);
          v(w);
        }),
        { weight: 1, arbitrary: anyRecord([1, 2]) },
      );
      right = fc.array(entryRecord, { maxLength: 3 }).map((rs) => (w: BinaryWriter) => {
        const inner = new BinaryWriter();
        for (const r of rs) r(inner);
        w.tag(no, 2).bytes(inner.finish());
      });
      break;
    }
  }
  return fc.oneof({ weight: 8, arbitrary: right }, { weight: 1, arbitrary: wrongWireType });
}

function messageRecord(no: number, message: DescMessage, delimited: boolean, depth: number): fc.Arbitrary<(w: BinaryWriter) => void> {
  if (depth >= 3) return fc.constant((w: BinaryWriter) => void w.tag(no, 2).bytes(new Uint8Array(0)));
  return wireArb(message, depth + 1).map((b) => (w: BinaryWriter) => {
    if (delimited) {
      w.tag(no, 3).raw(b);
      w.tag(no, 4);
    } else {
      w.tag(no, 2).bytes(b);
    }
  });
}

/** A record with a random (mostly unused) field number and any wire type, groups included. */
function anyRecord(avoid: number[]): fc.Arbitrary<(w: BinaryWriter) => void> {
  return fc
    .tuple(fc.integer({ min: 1, max: 40 }), fc.constantFrom(0, 1, 2, 5, 3, 4), fc.uint8Array({ maxLength: 6 }))
    .map(([no, wt, bytes]) => (w: BinaryWriter) => {
      if (avoid.includes(no)) no += 40;
      w.tag(no, wt);
      if (wt === 0) varint(w, BigInt(bytes[0] ?? 0), 0);
      else if (wt === 1) w.fixed64(7n);
      else if (wt === 5) w.fixed32(7);
      else if (wt === 2) w.bytes(bytes);
      else if (wt === 3) w.tag(no, 4);
    });
}

/** Damages bytes: truncation, a flipped byte, an inserted byte. */
export function mutate(bytes: Uint8Array, kind: number, at: number, value: number): Uint8Array {
  if (bytes.length === 0) return new Uint8Array([value & 0xff]);
  const i = at % bytes.length;
  switch (kind % 3) {
    case 0:
      return bytes.slice(0, i);
    case 1: {
      const out = bytes.slice();
      out[i] = value & 0xff;
      return out;
    }
    default: {
      const out = new Uint8Array(bytes.length + 1);
      out.set(bytes.subarray(0, i));
      out[i] = value & 0xff;
      out.set(bytes.subarray(i), i + 1);
      return out;
    }
  }
}

/**
 * Deep identity of decoded messages: same prototypes, same own keys in the
 * same order, same values (Object.is for numbers, bytes compared by content,
 * plain arrays versus typed arrays told apart).
 */
export function sameShape(a: unknown, b: unknown, path = "$"): string | undefined {
  if (typeof a !== typeof b) return `${path}: ${typeof a} vs ${typeof b}`;
  if (a === null || b === null || typeof a !== "object") {
    return Object.is(a, b) ? undefined : `${path}: ${String(a)} vs ${String(b)}`;
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  if (Object.getPrototypeOf(ao) !== Object.getPrototypeOf(bo)) return `${path}: prototypes differ`;
  if (ao instanceof Uint8Array) {
    const bb = bo as unknown as Uint8Array;
    if (ao.length !== bb.length || ao.some((x, i) => x !== bb[i])) return `${path}: bytes differ`;
    return undefined;
  }
  const ak = Object.keys(ao);
  const bk = Object.keys(bo);
  if (ak.join("\u0000") !== bk.join("\u0000")) return `${path}: keys [${ak.join(",")}] vs [${bk.join(",")}]`;
  for (const k of ak) {
    const d = sameShape(ao[k], bo[k], `${path}.${k}`);
    if (d !== undefined) return d;
  }
  return undefined;
}
