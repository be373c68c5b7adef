import { ScalarType, type DescEnum, type DescField, type DescMessage, type DescMethod } from "@bufbuild/protobuf";
import { FeatureSet_FieldPresence } from "@bufbuild/protobuf/wkt";
import type { CasePath, EnvelopeFields, MethodBinding } from "@protosocket/runtime/protocol";
import type { SchemaService } from "../schema/schema.js";

/**
 * Plain-data descriptions of services, methods and types: what `list` and
 * `describe` print as JSON (`--json`) and render as text. Field names here
 * are the JSON output's contract.
 */

/** A field of an envelope: its proto name and number. */
export interface FieldRef {
  readonly field: string;
  readonly number: number;
}

/** Where a method's message (or the error) sits in an envelope. */
export interface CaseDescription {
  /** Field names from the envelope down, dotted ("unary.get"). */
  readonly path: string;
  /** The field numbers along the path. */
  readonly numbers: number[];
  /** The message type at the end of the path. */
  readonly type: string;
}

/** One envelope message and its id and control-code fields. */
export interface EnvelopeDescription {
  readonly type: string;
  readonly messageId: FieldRef;
  readonly controlCode: FieldRef;
}

/** A method and its binding. */
export interface MethodDescription {
  readonly name: string;
  /** "pkg.Service/Method", as `call` takes it. */
  readonly fullName: string;
  readonly kind: "unary" | "server_streaming" | "client_streaming" | "bidi_streaming";
  readonly input: string;
  readonly output: string;
  /** Where the request sits in the request envelope (bound services only). */
  readonly requestCase?: CaseDescription;
  /** Where each response sits in the response envelope (bound services only). */
  readonly responseCase?: CaseDescription;
}

/** A service, bound or not. */
export interface ServiceDescription {
  readonly name: string;
  /** The .proto file declaring it. */
  readonly file: string;
  /** True when it has a valid envelope binding and can be called. */
  readonly bound: boolean;
  /**
   * True for a service with no envelope option of its own, called through the
   * standard envelope (protosocket.v1.Request / Response): each request names
   * its method, and methods have no cases.
   */
  readonly standard?: true;
  /** Why it cannot be bound (the rule it breaks and the fix). */
  readonly bindingError?: string;
  readonly envelopes?: {
    readonly request: EnvelopeDescription;
    readonly response: EnvelopeDescription & {
      /** The error case, when the envelope has one (failed handlers answer Cancel otherwise). */
      readonly error?: CaseDescription & { readonly codeField: string; readonly messageField: string; readonly detailsField?: string };
    };
  };
  readonly methods: MethodDescription[];
}

/** A field of a message type. */
export interface FieldDescription {
  readonly name: string;
  readonly jsonName: string;
  readonly number: number;
  /** The scalar kind ("string", "uint64"), or the message or enum type; for maps "map<key, value>". */
  readonly type: string;
  /** "repeated", "map", "optional" (explicit presence) or "" (implicit). */
  readonly label: "repeated" | "map" | "optional" | "";
  /** The oneof it belongs to, if any. */
  readonly oneof?: string;
}

/** A message type. */
export interface MessageDescription {
  readonly kind: "message";
  readonly name: string;
  readonly file: string;
  readonly fields: FieldDescription[];
}

/** An enum type. */
export interface EnumDescription {
  readonly kind: "enum";
  readonly name: string;
  readonly file: string;
  readonly values: { readonly name: string; readonly number: number }[];
}

function caseOf(path: CasePath): CaseDescription {
  return { path: path.path, numbers: path.steps.map((s) => s.number), type: path.typeName };
}

function envelopeOf(fields: EnvelopeFields): EnvelopeDescription {
  return {
    type: fields.typeName,
    messageId: { field: fields.id.name, number: fields.id.number },
    controlCode: { field: fields.code.name, number: fields.code.number },
  };
}

/** The description of one method of a service. */
export function describeMethod(service: SchemaService, method: DescMethod): MethodDescription {
  // Methods on the standard envelope travel by name, not in cases.
  const binding: MethodBinding | undefined = service.standard
    ? undefined
    : service.definition?.binding.methods.find((m) => m.name === method.name);
  const base = {
    name: method.name,
    fullName: `${service.desc.typeName}/${method.name}`,
    kind: method.methodKind,
    input: method.input.typeName,
    output: method.output.typeName,
  };
  return binding === undefined ? base : { ...base, requestCase: caseOf(binding.request), responseCase: caseOf(binding.response) };
}

/** The description of a service: its binding, or why it has none, and its methods. */
export function describeService(service: SchemaService): ServiceDescription {
  const methods = service.desc.methods.map((m) => describeMethod(service, m));
  const file = service.desc.file.proto.name;
  const def = service.definition;
  if (def === undefined) {
    return { name: service.desc.typeName, file, bound: false, bindingError: service.bindingError ?? "no envelope binding", methods };
  }
  const b = def.binding;
  const error = b.response.error;
  const response: NonNullable<ServiceDescription["envelopes"]>["response"] =
    error === undefined
      ? envelopeOf(b.response)
      : {
          ...envelopeOf(b.response),
          error: {
            ...caseOf(error),
            codeField: error.codeField,
            messageField: error.messageField,
            ...(error.detailsField !== undefined ? { detailsField: error.detailsField } : {}),
          },
        };
  const envelopes = { request: envelopeOf(b.request), response };
  return service.standard
    ? { name: b.typeName, file, bound: true, standard: true, envelopes, methods }
    : { name: b.typeName, file, bound: true, envelopes, methods };
}

function fieldType(field: DescField): string {
  switch (field.fieldKind) {
    case "scalar":
      return ScalarType[field.scalar].toLowerCase();
    case "enum":
      return field.enum.typeName;
    case "message":
      return field.message.typeName;
    case "list":
      return field.listKind === "scalar"
        ? ScalarType[field.scalar].toLowerCase()
        : field.listKind === "enum"
          ? field.enum.typeName
          : field.message.typeName;
    case "map": {
      const value =
        field.mapKind === "scalar"
          ? ScalarType[field.scalar].toLowerCase()
          : field.mapKind === "enum"
            ? field.enum.typeName
            : field.message.typeName;
      return `map<${ScalarType[field.mapKey].toLowerCase()}, ${value}>`;
    }
  }
}

/** The description of a message type: its fields with JSON names, numbers and types. */
export function describeMessage(message: DescMessage): MessageDescription {
  return {
    kind: "message",
    name: message.typeName,
    file: message.file.proto.name,
    fields: message.fields.map((f) => {
      const label: FieldDescription["label"] =
        f.fieldKind === "list"
          ? "repeated"
          : f.fieldKind === "map"
            ? "map"
            : (f.fieldKind === "scalar" || f.fieldKind === "enum") &&
                f.presence === FeatureSet_FieldPresence.EXPLICIT &&
                f.oneof === undefined
              ? "optional"
              : "";
      const d: FieldDescription = { name: f.name, jsonName: f.jsonName, number: f.number, type: fieldType(f), label };
      return f.oneof !== undefined ? { ...d, oneof: f.oneof.name } : d;
    }),
  };
}

/** The description of an enum type. */
export function describeEnum(e: DescEnum): EnumDescription {
  return { kind: "enum", name: e.typeName, file: e.file.proto.name, values: e.values.map((v) => ({ name: v.name, number: v.number })) };
}
