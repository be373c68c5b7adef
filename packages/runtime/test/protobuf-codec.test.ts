/**
 * The compiled codecs (src/protobuf) against protobuf-es, over random
 * schemas: every message toBinary can write is written byte for byte the
 * same; every input fromBinary reads is read to the same objects; wherever
 * toBinary or fromBinary throws, the codec throws the same error.
 */
import { create, createRegistry, fromBinary, fromJson, toBinary, type DescMessage, type JsonValue, type Message } from "@bufbuild/protobuf";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { messageCodec } from "../src/protobuf/index.js";
import { fallbacks } from "../src/protobuf/message-codec.js";
import { ProtoWriter } from "../src/protobuf/proto-writer.js";
import { buildSchema, initArb, messageArb, mutate, sameShape, schemaPlan, wireArb } from "./support/random-schema.js";
import { readLengthPrefix } from "../src/wire/varint-prefix.js";
import { file_interop_v1_interop, RequestSchema, ResponseSchema } from "@protosocket/gen/interop/v1/interop_pb.js";
import { echoDef, interopDef, kvDef } from "./support/services.js";

/** A random schema (one of its message types) and the generators for it. */
const schemaArb = schemaPlan
  .map((plan) => buildSchema(plan))
  .filter((types): types is DescMessage[] => types !== undefined && types.length > 0)
  .chain((types) => fc.constantFrom(...types));

/** True when a group-encoded field reaches a type with a JSON Struct field (those groups are fromBinary's to read). */
function hasDelegatedGroup(root: DescMessage): boolean {
  const seen = new Set<DescMessage>();
  const visit = (desc: DescMessage): boolean => {
    if (seen.has(desc)) return false;
    seen.add(desc);
    for (const f of desc.fields) {
      const m = f.message;
      if (m === undefined) continue;
      const delimited = (f as { delimitedEncoding?: boolean }).delimitedEncoding === true;
      const json = m.fields.some((g) => g.message?.typeName === "google.protobuf.Struct" && m.typeName !== "google.protobuf.Value");
      if (delimited && json) return true;
      if (visit(m)) return true;
    }
    return false;
  };
  return visit(root);
}

function outcome(f: () => unknown): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: f() };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e) };
  }
}

/** Decodes with the codec and with fromBinary; both must throw the same error or give the same objects. */
function expectSameRead(desc: DescMessage, bytes: Uint8Array): void {
  const ours = outcome(() => messageCodec(desc).decode(bytes));
  const theirs = outcome(() => fromBinary(desc, bytes));
  expect(ours.ok).toBe(theirs.ok);
  if (ours.ok && theirs.ok) {
    expect(sameShape(ours.value, theirs.value)).toBeUndefined();
  } else if (!ours.ok && !theirs.ok) {
    expect(ours.error).toBe(theirs.error);
  }
}

/** The codec writes `value` (a message or an init object) as toBinary(create(value)) does, errors included. */
function expectSameWrite(desc: DescMessage, value: unknown): void {
  const ours = outcome(() => messageCodec(desc).encode(value as never));
  const theirs = outcome(() => toBinary(desc, create(desc, value as never)));
  expect(ours.ok).toBe(theirs.ok);
  if (ours.ok && theirs.ok) expect([...(ours.value as Uint8Array)]).toEqual([...(theirs.value as Uint8Array)]);
  else if (!ours.ok && !theirs.ok) expect(ours.error).toBe(theirs.error);
}

describe("compiled codecs over random schemas", () => {
  it("compile (new Function is available here)", () => {
    expect(messageCodec(echoDef.requestEnvelope).compiled).toBe(true);
  });

  it("write the bytes toBinary writes, for random messages of random schemas", () => {
    fc.assert(
      fc.property(
        schemaArb.chain((desc) => fc.tuple(fc.constant(desc), messageArb(desc))),
        ([desc, message]) => {
          const before = fallbacks.encode;
          expectSameWrite(desc, message);
          // The messages create() builds are the compiled encoder's to write: toBinary only decides errors.
          let valid = true;
          try {
            toBinary(desc, message);
          } catch {
            valid = false;
          }
          if (valid) expect(fallbacks.encode).toBe(before);
        },
      ),
      { numRuns: 1500 },
    );
  });

  it("read toBinary's bytes back to what fromBinary reads", () => {
    fc.assert(
      fc.property(
        schemaArb.chain((desc) => fc.tuple(fc.constant(desc), messageArb(desc))),
        ([desc, message]) => {
          let bytes: Uint8Array;
          try {
            bytes = toBinary(desc, message);
          } catch {
            return; // a message toBinary refuses (a required field unset): nothing to read
          }
          const before = fallbacks.decode;
          expectSameRead(desc, bytes);
          // What toBinary writes is well-formed: read by the compiled decoder, never handed to
          // fromBinary (but for groups of types with JSON Struct fields, which fromBinary reads).
          if (!hasDelegatedGroup(desc)) expect(fallbacks.decode).toBe(before);
        },
      ),
      { numRuns: 1500 },
    );
  });

  it("read random wire records (unpacked and packed lists, merges, unknown and mistyped fields) as fromBinary does", () => {
    fc.assert(
      fc.property(
        schemaArb.chain((desc) => fc.tuple(fc.constant(desc), wireArb(desc))),
        ([desc, bytes]) => expectSameRead(desc, bytes),
      ),
      { numRuns: 2000 },
    );
  });

  it("read damaged bytes (truncated, a byte changed, a byte inserted) as fromBinary does, errors included", () => {
    fc.assert(
      fc.property(
        schemaArb.chain((desc) =>
          fc.tuple(
            fc.constant(desc),
            fc.oneof(
              wireArb(desc),
              messageArb(desc)
                .map((m) => outcome(() => toBinary(desc, m)))
                .map((o) => (o.ok ? (o.value as Uint8Array) : new Uint8Array(0))),
            ),
          ),
        ),
        fc.nat(2),
        fc.nat(),
        fc.nat(255),
        ([desc, bytes], kind, at, value) => expectSameRead(desc, mutate(bytes, kind, at, value)),
      ),
      { numRuns: 2000 },
    );
  });

  it("read arbitrary bytes as fromBinary does", () => {
    fc.assert(
      fc.property(schemaArb, fc.uint8Array({ maxLength: 40 }), (desc, bytes) => expectSameRead(desc, bytes)),
      { numRuns: 1000 },
    );
  });

  it("throw toBinary's error for values of the wrong type, and write the same bytes for values it converts", () => {
    const odd = fc.oneof(
      fc.constantFrom<unknown>(
        null,
        undefined,
        "12",
        "x",
        1.5,
        -1,
        2 ** 32,
        NaN,
        1n,
        true,
        [],
        {},
        new Uint8Array(2),
        "9223372036854775808",
        " 7 ",
      ),
      fc.integer(),
      fc.string({ maxLength: 3 }),
    );
    fc.assert(
      fc.property(
        schemaArb.chain((desc) => fc.tuple(fc.constant(desc), messageArb(desc))),
        odd,
        fc.nat(),
        ([desc, message], value, pick) => {
          if (desc.fields.length === 0) return;
          const field = desc.fields[pick % desc.fields.length];
          if (field === undefined) return;
          const m = message as unknown as Record<string, unknown>;
          if (field.oneof !== undefined) m[field.oneof.localName] = { case: field.localName, value };
          else m[field.localName] = value;
          expectSameWrite(desc, m);
        },
      ),
      { numRuns: 1500 },
    );
  });

  it("write init objects (plain values, nested inits and messages) as toBinary(create(init)) does, without create()", () => {
    fc.assert(
      fc.property(
        schemaArb.chain((desc) => fc.tuple(fc.constant(desc), initArb(desc))),
        ([desc, init]) => {
          const before = fallbacks.encode;
          expectSameWrite(desc, init);
          let valid = true;
          try {
            toBinary(desc, create(desc, init as never));
          } catch {
            valid = false;
          }
          if (valid) expect(fallbacks.encode).toBe(before);
        },
      ),
      { numRuns: 1500 },
    );
  });

  it("write init objects with odd values (null, undefined, arrays, messages of other types, wrong types) as toBinary(create(init)) does", () => {
    const odd = fc.oneof(
      fc.constantFrom<unknown>(
        null,
        undefined,
        [],
        {},
        [1, 2],
        "12",
        1.5,
        -1,
        2 ** 32,
        NaN,
        1n,
        true,
        new Uint8Array(2),
        { case: "nope", value: 1 },
        { case: undefined },
      ),
      fc.integer(),
      fc.string({ maxLength: 3 }),
    );
    fc.assert(
      fc.property(
        schemaArb.chain((desc) =>
          fc.tuple(
            fc.constant(desc),
            initArb(desc),
            schemaArb.chain((other) => messageArb(other)),
          ),
        ),
        odd,
        fc.nat(),
        fc.boolean(),
        ([desc, init, foreign], value, pick, useForeign) => {
          if (desc.members.length === 0) return;
          const member = desc.members[pick % desc.members.length];
          if (member === undefined) return;
          init[member.localName] = useForeign ? foreign : value;
          expectSameWrite(desc, init);
        },
      ),
      { numRuns: 1500 },
    );
  });

  it("write inits that are not objects as toBinary(create(init)) does", () => {
    fc.assert(
      fc.property(schemaArb, fc.constantFrom<unknown>(undefined, null, 5, "abc", [], true), (desc, init) => expectSameWrite(desc, init)),
      { numRuns: 200 },
    );
  });

  it("writes a message twice into one writer the same way (scratch reuse)", () => {
    fc.assert(
      fc.property(
        schemaArb.chain((desc) => fc.tuple(fc.constant(desc), messageArb(desc), messageArb(desc))),
        ([desc, a, b]) => {
          const expected = outcome(() => [...toBinary(desc, a), ...toBinary(desc, b)]);
          const w = new ProtoWriter(8);
          const ours = outcome(() => {
            messageCodec(desc).write(a, w);
            messageCodec(desc).write(b, w);
            return [...w.copy(0)];
          });
          expect(ours.ok).toBe(expected.ok);
          if (ours.ok && expected.ok) expect(ours.value).toEqual(expected.value);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("compiled codecs on the repository's messages", () => {
  const schemas = new Map<string, DescMessage>();
  for (const def of [echoDef, interopDef, kvDef]) {
    schemas.set(def.requestEnvelope.typeName, def.requestEnvelope);
    schemas.set(def.responseEnvelope.typeName, def.responseEnvelope);
    for (const m of def.service.methods) {
      schemas.set(m.input.typeName, m.input);
      schemas.set(m.output.typeName, m.output);
    }
  }

  for (const [name, desc] of schemas) {
    it(`${name}: same bytes and same reads as protobuf-es`, () => {
      fc.assert(
        fc.property(messageArb(desc), (message: Message) => {
          expectSameWrite(desc, message);
          const bytes = toBinary(desc, message);
          expectSameRead(desc, bytes);
        }),
        { numRuns: 200 },
      );
    });
  }

  it("a large bytes value can stay out of the buffer as the tail, and the bytes are the same", () => {
    const desc = echoDef.service.methods[0]?.output as DescMessage;
    const payload = new Uint8Array(70_000).map((_, i) => i & 0xff);
    const message = create(desc, { message: "hello", payload } as never);
    const w = new ProtoWriter(64);
    w.tailMinBytes = 16 * 1024;
    messageCodec(desc).write(message, w);
    expect(w.tail).toBe(payload);
    const joined = new Uint8Array([...w.buf.subarray(0, w.tailAt), ...payload]);
    expect([...joined]).toEqual([...toBinary(desc, message)]);
  });

  it("nested lengths above 127 bytes move what follows them (back-patching)", () => {
    const desc = interopDef.requestEnvelope;
    const message = create(desc, {
      requestId: 5n,
      body: { case: "echo", value: { message: "x".repeat(300), payload: new Uint8Array(20_000) } },
    } as never);
    expect([...messageCodec(desc).encode(message)]).toEqual([...toBinary(desc, message)]);
  });
});

describe("compiled codecs on the interop vectors (interop/vectors/frames.json, written by prost)", () => {
  interface VectorCase {
    name: string;
    direction: "request" | "response";
    message: JsonValue;
    frame_hex: string;
  }
  const file = JSON.parse(readFileSync(new URL("../../../interop/vectors/frames.json", import.meta.url), "utf8")) as {
    cases: VectorCase[];
  };
  const registry = createRegistry(file_interop_v1_interop);

  it("holds the cases", () => {
    expect(file.cases.length).toBeGreaterThan(30);
  });

  for (const c of file.cases) {
    it(`${c.name}: the envelope encodes to prost's bytes and decodes as fromBinary does`, () => {
      const schema = c.direction === "request" ? RequestSchema : ResponseSchema;
      const message = fromJson(schema, c.message, { registry });
      const frame = Buffer.from(c.frame_hex, "hex");
      const prefix = readLengthPrefix(frame, 0, frame.length);
      if (prefix.kind !== "ok") throw new Error("bad vector prefix");
      const body = new Uint8Array(frame.subarray(prefix.prefixBytes));
      expect(Buffer.from(messageCodec(schema).encode(message)).toString("hex")).toBe(Buffer.from(body).toString("hex"));
      const before = fallbacks.decode;
      expect(sameShape(messageCodec(schema).decode(body), fromBinary(schema, body))).toBeUndefined();
      expect(fallbacks.decode).toBe(before);
    });
  }
});
