import { create, equals, toBinary, type DescMessage, type Message } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ServiceDefinition } from "../src/index.js";
import { createEnvelopeWire } from "../src/protobuf/create-envelope-wire.js";
import type { ProtoEnvelopeWire as EnvelopeWire } from "../src/protobuf/proto-envelope-wire.js";
import { scratchBytes } from "../src/protobuf/fast-envelope-wire.js";
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
        parts[f.localName] = fc.oneof(
          fc.string({ maxLength: 20 }),
          fc.string({ unit: "grapheme", maxLength: 60 }),
          fc.string({ unit: "binary", maxLength: 200 }),
        );
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
          for (const [wire, t] of [
            [fast, ft],
            [generic, gt],
          ] as const) {
            const inbound = wire.decode(bytes);
            expect(inbound.id).toEqual(typeof id === "bigint" && id <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(id) : id);
            expect(inbound.code).toBe(code);
            expect(inbound.carried?.path.path).toBe(c?.path.path);
            if (c !== undefined && t !== undefined) {
              const read = inbound.read(t);
              expect(read !== undefined && equals(t.schema, read as Message, c.body)).toBe(true);
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

/** A protobuf tag followed by a varint or a length-delimited value, as raw bytes. */
function field(number: number, value: number | Uint8Array): number[] {
  const varint = (v: number) => {
    const out: number[] = [];
    while (v >= 0x80) {
      out.push((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    out.push(v);
    return out;
  };
  if (typeof value === "number") return [...varint(number * 8), ...varint(value)];
  return [...varint(number * 8 + 2), ...varint(value.length), ...value];
}

describe("specialised envelope codec: oneof cases in any order", () => {
  it("applies protobuf's last-case-wins rule: a registered case followed by an unregistered case of its oneof is not carried", () => {
    // id 1, the echo case (3), then the count case (4) of the same oneof: bytes 08 01 1a 00 22 00.
    const bytes = Uint8Array.from([0x08, 0x01, 0x1a, 0x00, 0x22, 0x00]);
    const echoOnly = [echoDef.binding.methods[0]!.request];
    const schema = echoDef.requestEnvelope;
    const fast = createEnvelopeWire(schema, echoDef.binding.request, echoOnly);
    const generic = createEnvelopeWire(schema, echoDef.binding.request, echoOnly, { generic: true });
    expect(fast.fast).toBe(true);
    expect(generic.decode(bytes).carried).toBeUndefined();
    expect(fast.decode(bytes).carried).toBeUndefined();
    expect(fast.decode(bytes).id).toBe(1);
    // With both cases registered, the later one is carried.
    const both = wires(echoDef, "request");
    expect(both.fast.decode(bytes).carried?.path.path).toBe("count");
    expect(both.generic.decode(bytes).carried?.path.path).toBe("count");
  });

  for (const [name, def, side] of [
    ["echo request", echoDef, "request"],
    ["echo response", echoDef, "response"],
    ["interop response", interopDef, "response"],
  ] as const) {
    it(`reads any sequence of id, code, oneof cases and unknown fields like the generic codec, whichever cases are registered: ${name}`, () => {
      const schema = side === "request" ? def.requestEnvelope : def.responseEnvelope;
      const fields = side === "request" ? def.binding.request : def.binding.response;
      const all = def.binding.methods.map((m) => (side === "request" ? m.request : m.response));
      if (side === "response" && def.binding.response.error !== undefined) all.push(def.binding.response.error);
      const messageFields = schema.fields.filter((f) => f.fieldKind === "message").map((f) => f.number);
      const part = fc.oneof(
        fc.nat({ max: 300 }).map((v) => field(fields.id.number, v)),
        fc.constantFrom(0, 1, 2, 7).map((v) => field(fields.code.number, v)),
        // A case with an empty message, or with one unknown varint field inside.
        fc
          .tuple(fc.constantFrom(...messageFields), fc.boolean())
          .map(([n, filled]) => field(n, Uint8Array.from(filled ? [0xf8, 0x01, 0x05] : []))),
        // An unknown field.
        fc.nat({ max: 1000 }).map((v) => field(200, v)),
      );
      fc.assert(
        fc.property(fc.subarray(all, { minLength: 1 }), fc.array(part, { maxLength: 8 }), (registered, parts) => {
          const fast = createEnvelopeWire(schema, fields, registered);
          const generic = createEnvelopeWire(schema, fields, registered, { generic: true });
          const bytes = Uint8Array.from(parts.flat());
          const g = generic.decode(bytes);
          const f = fast.decode(bytes);
          expect({ id: f.id, code: f.code, carried: f.carried?.path.path }).toEqual({
            id: g.id,
            code: g.code,
            carried: g.carried?.path.path,
          });
        }),
        { numRuns: 1000 },
      );
    });
  }
});

describe("envelope writers and their sinks", () => {
  it("lend the header to the sink only for the call, and drop a grown scratch buffer when the sink refuses the frame", () => {
    const { fast } = wires(echoDef, "response");
    const t = fast.target(echoDef.binding.methods[0]!.response);
    const big = create(t.schema, { message: "x".repeat(2 * 1024 * 1024) } as never);
    // A sink that refuses the frame, as a connection does past its frame limit.
    expect(() =>
      fast.write(
        {
          send() {
            throw new Error("frame too large");
          },
        },
        1,
        0,
        t,
        big,
      ),
    ).toThrow("frame too large");
    expect(scratchBytes()).toBeLessThanOrEqual(1024 * 1024);
    // The next frame is written whole, and the bytes the sink saw stay its own after later writes.
    const seen: Uint8Array[] = [];
    const sink = { send: (body: Uint8Array, head?: Uint8Array) => seen.push(Uint8Array.from([...(head ?? []), ...body])) };
    fast.write(sink, 2, 0, t, create(t.schema, { message: "first" } as never));
    fast.write(sink, 3, 0, t, create(t.schema, { message: "second" } as never));
    expect(fast.decode(seen[0]!).read(t)).toMatchObject({ message: "first" });
    expect(fast.decode(seen[1]!).read(t)).toMatchObject({ message: "second" });
  });
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
        fc.property(
          ids,
          fc.constantFrom(...paths).chain((p) => fc.tuple(fc.constant(p), initArb(fast.target(p).schema))),
          (id, [path, init]) => {
            const expected = [...generic.encode(id, 0, generic.target(path), create(generic.target(path).schema, init as never))];
            expect([...fast.encode(id, 0, fast.target(path), init as never)]).toEqual(expected);
            expect([...generic.encode(id, 0, generic.target(path), init as never)]).toEqual(expected);
            const written: number[] = [];
            fast.write({ send: (body, head) => written.push(...(head ?? []), ...body) }, id, 0, fast.target(path), init as never);
            expect(written).toEqual(expected);
          },
        ),
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
