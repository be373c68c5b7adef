/**
 * The standard envelope's wire (protobuf/standard-envelope-wire.ts) against
 * protobuf-es: it writes the bytes toBinary writes for the same
 * protosocket.v1.Request / Response, and reads whatever fromBinary reads
 * (random frames, fields out of order or repeated, unknown fields), failing
 * where fromBinary fails.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { FeatureSchema, PointSchema, RouteGuideService } from "@protosocket/gen/routeguide/v1/route_guide_pb.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ControlCode, codecsOf, type EnvelopeCodecs, type MethodCodec } from "../src/protocol.js";
import { defineStandardService } from "../src/index.js";
import { RequestSchema, ResponseSchema } from "../src/gen/protosocket/v1/standard_pb.js";
import { StatusSchema } from "../src/gen/protosocket/v1/status_pb.js";

const codecs: EnvelopeCodecs = codecsOf(defineStandardService(RouteGuideService));
const getFeature = codecs.methods[0] as MethodCodec;
const names = codecs.methods.map((m) => m.fullName);

const ids = fc.oneof(
  fc.constantFrom<number | bigint>(0, 1, 127, 128, 300, Number.MAX_SAFE_INTEGER, 2n ** 53n, 2n ** 64n - 1n),
  fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  fc.bigInt({ min: 2n ** 53n, max: 2n ** 64n - 1n }),
);
const metadata = fc.dictionary(fc.string({ maxLength: 12 }), fc.string({ unit: "grapheme", maxLength: 20 }), { maxKeys: 4 });
const point = fc.record({ latitude: fc.integer(), longitude: fc.integer() });

const asBig = (id: number | bigint) => (typeof id === "bigint" ? id : BigInt(id));
const asId = (id: bigint) => (id <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(id) : id);

describe("the standard envelope's wire", () => {
  it("writes requests as toBinary writes protosocket.v1.Request", () => {
    fc.assert(
      fc.property(
        ids,
        fc.constantFrom<ControlCode>(0, 1, 2),
        point,
        fc.option(fc.integer({ min: 1, max: 2 ** 40 }), { nil: undefined }),
        metadata,
        (id, code, p, deadlineMs, md) => {
          const context = { metadata: new Map(Object.entries(md)), deadlineMs };
          const ours = codecs.request.encode(id, code, getFeature.request, p, context);
          const expected = toBinary(
            RequestSchema,
            create(RequestSchema, {
              messageId: asBig(id),
              controlCode: code,
              method: getFeature.fullName,
              deadlineMs: deadlineMs === undefined ? 0n : BigInt(deadlineMs),
              metadata: md,
              body: toBinary(PointSchema, create(PointSchema, p)),
            }),
          );
          expect(ours).toEqual(expected);
          // And reads them back.
          const inbound = codecs.request.decode(ours);
          expect(inbound.id).toEqual(id);
          expect(inbound.code).toBe(code);
          expect(inbound.deadlineMs).toBe(deadlineMs);
          expect(inbound.metadata === undefined ? {} : Object.fromEntries(inbound.metadata)).toEqual(md);
          expect(inbound.carried).toBe(getFeature.request);
          expect(inbound.read(getFeature.request)).toEqual(create(PointSchema, p));
        },
      ),
    );
  });

  it("writes responses and errors as toBinary writes protosocket.v1.Response", () => {
    fc.assert(
      fc.property(ids, fc.string(), metadata, fc.boolean(), (id, name, md, failed) => {
        const context = { metadata: new Map(Object.entries(md)) };
        const error = codecs.error;
        if (error === undefined) throw new Error("no error channel");
        const status = create(StatusSchema, { code: 5, message: name });
        const ours = failed
          ? codecs.response.encode(id, 0, error.target, status, context)
          : codecs.response.encode(id, 0, getFeature.response, { name }, context);
        const expected = toBinary(
          ResponseSchema,
          create(ResponseSchema, {
            messageId: asBig(id),
            metadata: md,
            ...(failed ? { error: status } : { body: toBinary(FeatureSchema, create(FeatureSchema, { name })) }),
          }),
        );
        expect(ours).toEqual(expected);
        const inbound = codecs.response.decode(ours);
        expect(inbound.id).toEqual(id);
        expect(inbound.metadata === undefined ? {} : Object.fromEntries(inbound.metadata)).toEqual(md);
        if (failed) {
          expect(inbound.carried).toBe(error.target);
          expect(inbound.read(getFeature.response)).toBeUndefined();
          expect(inbound.read(error.target)).toEqual(status);
        } else {
          expect(inbound.carried).toBeUndefined();
          expect(inbound.read(getFeature.response)).toEqual(create(FeatureSchema, { name }));
        }
      }),
    );
  });

  it("reads any Request protobuf-es writes, fields in any order, repeated or unknown, as fromBinary reads it", () => {
    const field = fc.oneof(
      ids.map((id) => ({ messageId: asBig(id) })),
      fc.nat().map((c) => ({ controlCode: c })),
      fc.oneof(fc.constantFrom(...names), fc.string({ maxLength: 40 })).map((method) => ({ method })),
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((deadlineMs) => ({ deadlineMs })),
      metadata.map((md) => ({ metadata: md })),
      point.map((p) => ({ body: toBinary(PointSchema, create(PointSchema, p)) })),
      fc.uint8Array({ maxLength: 8 }).map((b) => ({ unknown: b })),
    );
    fc.assert(
      fc.property(fc.array(field, { maxLength: 8 }), (parts) => {
        // Concatenated messages merge: each part is one field (or an unknown field 15).
        const chunks = parts.map((part) => {
          if ("unknown" in part) return new Uint8Array([0x7a, part.unknown.length, ...part.unknown]);
          return toBinary(RequestSchema, create(RequestSchema, part as never));
        });
        const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
        let at = 0;
        for (const c of chunks) {
          bytes.set(c, at);
          at += c.length;
        }
        const expected = fromBinary(RequestSchema, bytes);
        const inbound = codecs.request.decode(bytes);
        expect(inbound.id).toEqual(asId(expected.messageId));
        expect(inbound.code).toBe(expected.controlCode === 0 || expected.controlCode === 2 ? expected.controlCode : ControlCode.Cancel);
        expect(inbound.metadata === undefined ? {} : Object.fromEntries(inbound.metadata)).toEqual(expected.metadata);
        const deadline =
          expected.deadlineMs === 0n ? undefined : Number(expected.deadlineMs > 2n ** 53n - 1n ? 2n ** 53n - 1n : expected.deadlineMs);
        expect(inbound.deadlineMs).toBe(deadline);
        const method = codecs.methods.find((m) => m.fullName === expected.method);
        expect(inbound.carried).toBe(method?.request);
        if (method !== undefined) {
          // A body of another method's type may not decode: then both fail.
          const schema = (method.request as unknown as { schema: typeof PointSchema }).schema;
          let body: unknown;
          try {
            body = fromBinary(schema, expected.body);
          } catch {
            expect(() => inbound.read(method.request)).toThrow();
            return;
          }
          expect(inbound.read(method.request)).toEqual(body);
        }
      }),
    );
  });

  it("fails on bytes fromBinary refuses, and reads what it accepts alike", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        let expected: ReturnType<typeof fromBinary<typeof RequestSchema>> | undefined;
        try {
          // A frame starting with 0x00 probes: the rest is the Request.
          expected = fromBinary(RequestSchema, bytes[0] === 0 ? bytes.subarray(1) : bytes);
        } catch {
          expected = undefined;
        }
        if (expected === undefined) {
          expect(() => codecs.request.decode(bytes)).toThrow();
          return;
        }
        const inbound = codecs.request.decode(bytes);
        expect(inbound.id).toEqual(asId(expected.messageId));
        expect(inbound.metadata === undefined ? {} : Object.fromEntries(inbound.metadata)).toEqual(expected.metadata);
      }),
    );
  });

  it("names a method it does not serve as no case, and a name that is not UTF-8 fails the frame", () => {
    const unknown = toBinary(RequestSchema, create(RequestSchema, { messageId: 3n, method: "routeguide.v1.RouteGuideService/Nope" }));
    expect(codecs.request.decode(unknown).carried).toBeUndefined();
    const invalid = new Uint8Array([0x08, 0x03, 0x1a, 0x02, 0xc3, 0x28]);
    expect(() => fromBinary(RequestSchema, invalid)).toThrow();
    expect(() => codecs.request.decode(invalid)).toThrow();
  });

  it("reads a probing frame (0x00 first, which no protobuf message starts with) as the frame without it", () => {
    const probing = codecsOf(defineStandardService(RouteGuideService, { probe: true }));
    const frame = probing.request.encode(9, 0, probing.methods[0]?.request, { latitude: 4 });
    expect(frame[0]).toBe(0);
    expect(frame.subarray(1)).toEqual(codecs.request.encode(9, 0, getFeature.request, { latitude: 4 }));
    expect(() => fromBinary(RequestSchema, frame)).toThrow();
    const inbound = codecs.request.decode(frame);
    expect(inbound.id).toBe(9);
    expect(inbound.carried).toBe(getFeature.request);
    expect(inbound.read(getFeature.request)).toEqual(create(PointSchema, { latitude: 4 }));
    expect(codecs.request.peekId(frame.subarray(0, 4))).toBe(9);
  });

  it("counts metadata against the limits as it reads, and builds none past them (fast path and fromBinary's)", () => {
    const many = new Map(Array.from({ length: 200 }, (_, i) => [`k${i}`, "v"] as const));
    const frame = codecs.request.encode(3, 0, getFeature.request, { latitude: 2 }, { metadata: many });
    const inbound = codecs.request.decode(frame);
    expect(inbound.metadata).toBeUndefined();
    expect(inbound.metadataOverLimit).toEqual({ option: "maxMetadataEntries", limit: 128 });
    expect(inbound.carried).toBe(getFeature.request);
    expect(inbound.read(getFeature.request)).toEqual(create(PointSchema, { latitude: 2 }));
    const bytes = codecs.request.decode(frame, { maxMetadataEntries: 1000, maxMetadataBytes: 100 });
    expect(bytes.metadataOverLimit).toEqual({ option: "maxMetadataBytes", limit: 100 });
    expect(codecs.request.decode(frame, { maxMetadataEntries: 1000, maxMetadataBytes: 1 << 20 }).metadata?.size).toBe(200);
    // A deadline field with the wrong wire type sends the frame to fromBinary: the limits hold there too.
    const odd = new Uint8Array([...frame, 0x21, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(() => fromBinary(RequestSchema, odd)).toThrow();
    expect(() => codecs.request.decode(odd)).toThrow();
    const response = codecs.response.encode(3, 0, getFeature.response, { name: "x" }, { metadata: many });
    const answer = codecs.response.decode(response);
    expect(answer.metadata).toBeUndefined();
    expect(answer.metadataOverLimit).toEqual({ option: "maxMetadataEntries", limit: 128 });
    expect(answer.read(getFeature.response)).toEqual(create(FeatureSchema, { name: "x" }));
  });

  it("peeks the id in the first bytes of a request too large to receive", () => {
    const frame = codecs.request.encode(2n ** 60n, 0, getFeature.request, { latitude: 5 });
    expect(codecs.request.peekId(frame.subarray(0, 12))).toBe(2n ** 60n);
  });
});
