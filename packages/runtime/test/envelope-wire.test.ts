import { create, equals, toBinary, type DescMessage, type Message } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ServiceDefinition } from "../src/index.js";
import { createEnvelopeWire, type EnvelopeWire } from "../src/envelope/envelope-wire.js";
import { initArb } from "./support/random-schema.js";
import { echoDef, interopDef, kvDef } from "./support/services.js";

function wires(def: ServiceDefinition, side: "request" | "response"): { fast: EnvelopeWire; generic: EnvelopeWire } {
  const fields = side === "request" ? def.binding.request : def.binding.response;
  const schema = side === "request" ? def.requestEnvelope : def.responseEnvelope;
  const paths = def.binding.methods.map((m) => (side === "request" ? m.request : m.response));
  if (side === "response" && def.binding.response.error !== undefined) paths.push(def.binding.response.error);
  return { fast: createEnvelopeWire(schema, fields, paths), generic: createEnvelopeWire(schema, fields, paths, { generic: true }) };
}

const ids = fc.oneof(
  fc.constantFrom<number | bigint>(0, 1, 127, 128, 300, Number.MAX_SAFE_INTEGER, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n),
  fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  fc.bigInt({ min: 2n ** 53n, max: 2n ** 64n - 1n }),
);

/** A message of `schema` with arbitrary string, bytes and integer fields (one level deep). */
function arbitraryMessage(schema: DescMessage): fc.Arbitrary<Message> {
  const parts: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of schema.fields) {
    if (f.fieldKind === "enum") {
      parts[f.localName] = fc.oneof(fc.constant(0), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }));
      continue;
    }
    if (f.fieldKind !== "scalar") continue;
    switch (f.scalar) {
      case 5:
        parts[f.localName] = fc.oneof(fc.constant(0), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }));
        break;
      case 8:
        parts[f.localName] = fc.boolean();
        break;
      case 9:
        parts[f.localName] = fc.oneof(fc.string({ maxLength: 20 }), fc.string({ unit: "grapheme", maxLength: 60 }), fc.string({ unit: "binary", maxLength: 200 }));
        break;
      case 12:
        parts[f.localName] = fc.uint8Array({ maxLength: 300 });
        break;
      case 13:
        parts[f.localName] = fc.nat();
        break;
      case 4:
        parts[f.localName] = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
        break;
    }
  }
  return fc.record(parts).map((init) => create(schema, init as never));
}

describe("specialised envelope codec", () => {
  const cases: [string, ServiceDefinition, "request" | "response"][] = [
    ["echo request", echoDef, "request"],
    ["echo response", echoDef, "response"],
    ["interop request (request_id/code)", interopDef, "request"],
    ["interop response", interopDef, "response"],
    ["kv response (id and code after the cases' numbers)", kvDef, "response"],
  ];

  it("is chosen for single-field cases and not for wrapped ones", () => {
    expect(wires(echoDef, "request").fast.fast).toBe(true);
    expect(wires(kvDef, "response").fast.fast).toBe(true);
    expect(wires(kvDef, "request").fast.fast).toBe(false);
  });

  for (const [name, def, side] of cases) {
    it(`writes the same bytes as toBinary and reads them back the same: ${name}`, () => {
      const { fast, generic } = wires(def, side);
      const fields = side === "request" ? def.binding.request : def.binding.response;
      const paths = def.binding.methods.map((m) => (side === "request" ? m.request : m.response));
      if (side === "response" && fields !== def.binding.request && def.binding.response.error) paths.push(def.binding.response.error);
      const arbCase = fc.oneof(
        fc.constant(undefined),
        ...paths.map((p) => arbitraryMessage(fast.target(p).schema).map((body) => ({ path: p, body }))),
      );
      fc.assert(
        fc.property(ids, fc.constantFrom(0, 1, 2), arbCase, (id, code, c) => {
          const ft = c === undefined ? undefined : fast.target(c.path);
          const gt = c === undefined ? undefined : generic.target(c.path);
          const bytes = fast.encode(id, code as 0, ft, c?.body);
          expect([...bytes]).toEqual([...generic.encode(id, code as 0, gt, c?.body)]);
          // write() hands the frame over in parts (header, case bytes) with the same content.
          const written: number[] = [];
          fast.write({ send: (body, head) => written.push(...(head ?? []), ...body) }, id, code as 0, ft, c?.body);
          expect(written).toEqual([...bytes]);
          for (const [wire, t] of [[fast, ft], [generic, gt]] as const) {
            const inbound = wire.decode(bytes);
            expect(inbound.id).toEqual(typeof id === "bigint" && id <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(id) : id);
            expect(inbound.code).toBe(code);
            expect(inbound.carried?.path.path).toBe(c?.path.path);
            if (c !== undefined && t !== undefined) {
              const read = inbound.read(t);
              expect(read !== undefined && equals(t.schema, read, c.body)).toBe(true);
            }
          }
        }),
        { numRuns: 300 },
      );
    });

    it(`reads arbitrary bytes like the generic codec: ${name}`, () => {
      const { fast, generic } = wires(def, side);
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
          let g: unknown;
          let gFailed = false;
          try {
            const inbound = generic.decode(bytes);
            g = { id: inbound.id, code: inbound.code, carried: inbound.carried?.path.path };
          } catch {
            gFailed = true;
          }
          let f: unknown;
          let fFailed = false;
          try {
            const inbound = fast.decode(bytes);
            f = { id: inbound.id, code: inbound.code, carried: inbound.carried?.path.path };
            // The case message is decoded lazily: reading it must fail where the generic decode failed.
            if (inbound.carried !== undefined) inbound.read(inbound.carried);
          } catch {
            fFailed = true;
          }
          expect(fFailed).toBe(gFailed);
          if (!gFailed) expect(f).toEqual(g);
        }),
        { numRuns: 2000 },
      );
    });
  }
});

describe("case messages written by their compiled codecs", () => {
  it("an init object (what a handler returns) is written as create() would make it, by both codecs", () => {
    for (const [def, side] of [
      [echoDef, "response"],
      [echoDef, "request"],
      [interopDef, "response"],
      [kvDef, "response"],
    ] as const) {
      const { fast, generic } = wires(def, side);
      const paths = def.binding.methods.map((m) => (side === "request" ? m.request : m.response));
      fc.assert(
        fc.property(ids, fc.constantFrom(...paths).chain((p) => fc.tuple(fc.constant(p), initArb(fast.target(p).schema))), (id, [path, init]) => {
          const expected = [...generic.encode(id, 0, generic.target(path), create(generic.target(path).schema, init as never))];
          expect([...fast.encode(id, 0, fast.target(path), init as never)]).toEqual(expected);
          expect([...generic.encode(id, 0, generic.target(path), init as never)]).toEqual(expected);
          const written: number[] = [];
          fast.write({ send: (body, head) => written.push(...(head ?? []), ...body) }, id, 0, fast.target(path), init as never);
          expect(written).toEqual(expected);
        }),
        { numRuns: 200 },
      );
    }
  });

  it("a body toBinary rejects is rejected with toBinary's error, and nothing is sent", () => {
    const { fast } = wires(interopDef, "request");
    const method = interopDef.binding.methods.find((m) => m.request.path === "fail");
    if (method === undefined) throw new Error("no fail method");
    const t = fast.target(method.request);
    const bad = { ...create(t.schema), code: 1.5 } as Message;
    let expected = "";
    try {
      toBinary(t.schema, bad);
    } catch (e) {
      expected = (e as Error).message;
    }
    expect(expected).not.toBe("");
    const sent: Uint8Array[] = [];
    expect(() => fast.write({ send: (body) => sent.push(body) }, 1, 0, t, bad)).toThrow(expected);
    expect(sent).toHaveLength(0);
  });

  it("a large payload written last is the frame's body, not copied; the frame is toBinary's envelope", () => {
    const { fast, generic } = wires(echoDef, "response");
    const method = echoDef.binding.methods.find((m) => m.response.path === "echo");
    if (method === undefined) throw new Error("no echo method");
    const payload = new Uint8Array(64 * 1024).fill(7);
    const body = create(fast.target(method.response).schema, { message: "hello", payload } as never);
    const parts: { body: Uint8Array; head: Uint8Array | undefined }[] = [];
    fast.write({ send: (b, head) => parts.push({ body: b, head: head?.slice() }) }, 42, 0, fast.target(method.response), body);
    expect(parts).toHaveLength(1);
    expect(parts[0]?.body).toBe(payload);
    const frame = [...(parts[0]?.head ?? []), ...payload];
    expect(frame).toEqual([...generic.encode(42, 0, generic.target(method.response), body)]);
  });
});
