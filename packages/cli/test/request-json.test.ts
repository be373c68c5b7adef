import { create, equals, toJson, type DescMessage, type JsonValue } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { CliError } from "../src/exit-codes.js";
import { parseRequestJson } from "../src/json/request-json.js";
import { loadSchema } from "../src/schema/load-schema.js";
import type { Schema } from "../src/schema/schema.js";
import { fixtureRoot } from "./support/cli.js";

let schema: Schema;
let put: DescMessage;

beforeAll(async () => {
  schema = await loadSchema({ importPath: [fixtureRoot], proto: ["clitest/v1/shapes.proto"] });
  put = schema.registry.getMessage("clitest.v1.PutRequest") as DescMessage;
});

const tag = fc.record({ key: fc.string({ maxLength: 6 }), weight: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) });
const item = fc.record({
  name: fc.string({ maxLength: 8 }),
  id: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  tags: fc.array(tag, { maxLength: 3 }),
});
const putInit = fc.record({
  item: fc.option(item, { nil: undefined }),
  items: fc.array(item, { maxLength: 3 }),
  byName: fc.dictionary(fc.string({ maxLength: 5 }), item, { maxKeys: 3 }),
  counts: fc.dictionary(fc.string({ maxLength: 5 }), fc.integer({ min: -1000, max: 1000 }), { maxKeys: 3 }),
  numbers: fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { maxLength: 4 }),
  at: fc.option(fc.integer({ min: 0, max: 4_000_000_000_000 }).map(timestampFromMs), { nil: undefined }),
  kind: fc.integer({ min: 0, max: 2 }),
  choice: fc.oneof(
    fc.constant({ case: undefined }),
    fc.string({ maxLength: 6 }).map((value) => ({ case: "text" as const, value })),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((value) => ({ case: "number" as const, value })),
  ),
  note: fc.option(fc.string({ maxLength: 6 }), { nil: undefined }),
});

function message(init: unknown) {
  const clean = Object.fromEntries(Object.entries(init as object).filter(([, v]) => v !== undefined));
  return create(put, clean as never);
}

/** Every path to a scalar in `json`, written as the CLI writes field paths. */
function leafPaths(json: JsonValue, path = "", inMap = false): string[] {
  if (json === null || typeof json !== "object") return path === "" ? [] : [path];
  if (Array.isArray(json)) return json.flatMap((v, i) => leafPaths(v, `${path}[${i}]`));
  return Object.entries(json).flatMap(([k, v]) => {
    const sub = inMap ? `${path}[${JSON.stringify(k)}]` : path === "" ? k : `${path}.${k}`;
    return leafPaths(v, sub, !inMap && (k === "byName" || k === "counts"));
  });
}

function setAt(json: JsonValue, path: string, value: JsonValue): JsonValue {
  const copy = JSON.parse(JSON.stringify(json)) as JsonValue;
  const steps = [...path.matchAll(/([A-Za-z_]\w*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/g)].map((m) =>
    m[1] !== undefined ? m[1] : m[2] !== undefined ? Number(m[2]) : (JSON.parse(m[3] as string) as string),
  );
  let node = copy as Record<string | number, JsonValue>;
  for (const s of steps.slice(0, -1)) node = node[s] as Record<string | number, JsonValue>;
  node[steps[steps.length - 1] as string | number] = value;
  return copy;
}

describe("parseRequestJson", () => {
  it("reads back what toJson writes, for messages with every kind of field", () => {
    fc.assert(
      fc.property(putInit, (init) => {
        const original = message(init);
        const text = JSON.stringify(toJson(put, original));
        const parsed = parseRequestJson(put, text, "-d", { registry: schema.registry });
        expect(equals(put, parsed, original)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it("names the exact path of a value that does not fit, wherever it is", () => {
    fc.assert(
      fc.property(putInit, fc.nat(), (init, pick) => {
        const json = toJson(put, message(init));
        const leaves = leafPaths(json);
        fc.pre(leaves.length > 0);
        const path = leaves[pick % leaves.length] as string;
        const broken = setAt(json, path, { not: "a scalar" });
        let error: unknown;
        try {
          parseRequestJson(put, JSON.stringify(broken), "-d", { registry: schema.registry });
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(CliError);
        expect((error as CliError).kind).toBe("usage");
        expect((error as CliError).message).toContain(`: field ${path}: `);
      }),
      { numRuns: 200 },
    );
  });

  it("invalid JSON is a usage error naming where it came from", () => {
    expect(() => parseRequestJson(put, "{", "-d @req.json", { registry: schema.registry })).toThrow(/^-d @req\.json: invalid JSON/);
  });
});
