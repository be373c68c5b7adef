import { fromJson, type DescMessage, type JsonObject, type JsonValue, type Message, type Registry } from "@bufbuild/protobuf";
import { usageError } from "../exit-codes.js";
import { didYouMean } from "../suggest.js";

/** Options of {@link parseRequestJson}. */
export interface RequestJsonOptions {
  /** Resolves google.protobuf.Any "@type"s. */
  readonly registry: Registry;
  /** Skip fields the message does not have instead of failing. */
  readonly ignoreUnknownFields?: boolean;
}

/** Where a JSON request went wrong. */
export interface JsonProblem {
  /** The field path from the request down: "items[2].name", `labels["k"]`; "" for the request itself. */
  readonly path: string;
  /** What is wrong there. */
  readonly message: string;
}

/**
 * Reads a request from its proto3 JSON text (`fromJson` of @bufbuild/protobuf
 * does the mapping).
 *
 * @param source how the user gave it ("-d", "-d @file.json", "stdin"), for messages.
 * @throws CliError (usage) for invalid JSON, or naming the field path and
 *   what is wrong for JSON that does not fit the message.
 */
export function parseRequestJson(schema: DescMessage, text: string, source: string, options: RequestJsonOptions): Message {
  let json: JsonValue;
  try {
    json = JSON.parse(text) as JsonValue;
  } catch (e) {
    throw usageError(`${source}: invalid JSON: ${(e as Error).message}`);
  }
  const opts = { registry: options.registry, ignoreUnknownFields: options.ignoreUnknownFields === true };
  try {
    return fromJson(schema, json, opts);
  } catch (e) {
    const problem = locateJsonProblem(schema, json, opts) ?? { path: "", message: reason(e) };
    const where = problem.path === "" ? "" : `: field ${problem.path}`;
    throw usageError(`${source}: not a valid ${schema.typeName}${where}: ${problem.message}`);
  }
}

/** The reason of a protobuf-es JSON error, without its "cannot decode … from JSON: " preamble. */
function reason(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.replace(/^cannot decode (?:message|field) \S+ from JSON: /, "");
}

function isObject(v: JsonValue): v is JsonObject {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function fieldPath(parent: string, key: string): string {
  return /^[A-Za-z_][\w]*$/.test(key) ? (parent === "" ? key : `${parent}.${key}`) : `${parent}[${JSON.stringify(key)}]`;
}

function fails(schema: DescMessage, json: JsonValue, opts: { registry: Registry; ignoreUnknownFields: boolean }): string | undefined {
  try {
    fromJson(schema, json, opts);
    return undefined;
  } catch (e) {
    return reason(e);
  }
}

/**
 * Finds the deepest place where `json` does not fit `schema`, by descending
 * through message, list and map fields and asking `fromJson` about each
 * part, so the mapping rules stay protobuf-es's and only the path is ours.
 * Undefined when `json` fits.
 */
export function locateJsonProblem(
  schema: DescMessage,
  json: JsonValue,
  opts: { registry: Registry; ignoreUnknownFields: boolean },
  path = "",
): JsonProblem | undefined {
  const whole = fails(schema, json, opts);
  if (whole === undefined) return undefined;
  // Well-known types have JSON forms of their own (a string for Timestamp, anything for Value): no fields to descend into.
  if (schema.typeName.startsWith("google.protobuf.")) return { path, message: whole };
  if (!isObject(json))
    return { path, message: `expected a JSON object (${schema.typeName}), got ${Array.isArray(json) ? "an array" : JSON.stringify(json)}` };
  for (const [key, value] of Object.entries(json)) {
    const field = schema.fields.find((f) => f.jsonName === key || f.name === key);
    const sub = fieldPath(path, key);
    if (field === undefined) {
      if (opts.ignoreUnknownFields) continue;
      const names = schema.fields.flatMap((f) => [f.jsonName, f.name]);
      const hint = didYouMean(key, names);
      return {
        path: sub,
        message: `${schema.typeName} has no field "${key}"${hint === "" ? `; its fields: ${schema.fields.map((f) => f.jsonName).join(", ") || "none"}` : hint}`,
      };
    }
    if (value === null) continue;
    if (field.fieldKind === "message") {
      const inner = locateJsonProblem(field.message, value, opts, sub);
      if (inner !== undefined) return inner;
    } else if (field.fieldKind === "list" && Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const item = value[i] as JsonValue;
        const at = `${sub}[${i}]`;
        const inner =
          field.listKind === "message"
            ? locateJsonProblem(field.message, item, opts, at)
            : asProblem(at, fails(schema, { [key]: [item] }, opts));
        if (inner !== undefined) return inner;
      }
    } else if (field.fieldKind === "map" && isObject(value)) {
      for (const [k, v] of Object.entries(value)) {
        const at = `${sub}[${JSON.stringify(k)}]`;
        const keyProblem = fails(schema, { [key]: { [k]: field.mapKind === "message" ? {} : v } }, opts);
        const inner =
          field.mapKind === "message" && keyProblem === undefined
            ? locateJsonProblem(field.message, v, opts, at)
            : asProblem(at, keyProblem ?? fails(schema, { [key]: { [k]: v } }, opts));
        if (inner !== undefined) return inner;
      }
    }
    const alone = fails(schema, { [key]: value }, opts);
    if (alone !== undefined) return { path: sub, message: alone };
  }
  return { path, message: whole };
}

function asProblem(path: string, message: string | undefined): JsonProblem | undefined {
  return message === undefined ? undefined : { path, message };
}
