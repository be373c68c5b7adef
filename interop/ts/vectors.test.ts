/**
 * Byte vectors: every frame in interop/vectors/frames.json (written by the Rust
 * crates protosocket-prost 2.x / prost 0.14) must come out of OUR envelope codec
 * + frame encoder byte for byte, and our frame decoder + envelope codec must
 * read it back to the same message, id and control code.
 */
import { createRegistry, equals, fromJson, toJson, type DescMessage, type JsonValue } from "@bufbuild/protobuf";
import {
  ControlCode,
  createEnvelopeCodec,
  createFrameDecoder,
  DEFAULT_MAX_FRAME_BYTES,
  encodeFrame,
  type EnvelopeCodec,
  type EnvelopeMessage,
} from "@protosocket/runtime/protocol";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { file_interop_v1_interop, RequestSchema, ResponseSchema } from "@protosocket/gen/interop/v1/interop_pb.js";
import { InteropServiceDefinition } from "@protosocket/gen/interop/v1/interop_service_protosocket.js";
import { repoRoot } from "./rust-peers.js";

interface VectorCase {
  name: string;
  direction: "request" | "response";
  message: JsonValue;
  frame_hex: string;
  control: "normal" | "cancel" | "end";
}

const file = JSON.parse(readFileSync(join(repoRoot, "interop/vectors/frames.json"), "utf8")) as { cases: VectorCase[] };
// The registry resolves the Any in error details (type.googleapis.com/interop.v1.EchoResponse).
const registry = createRegistry(file_interop_v1_interop);
const { binding } = InteropServiceDefinition;
const codecs: Record<VectorCase["direction"], { schema: DescMessage; codec: EnvelopeCodec }> = {
  request: { schema: RequestSchema, codec: createEnvelopeCodec(RequestSchema, binding.request) },
  response: { schema: ResponseSchema, codec: createEnvelopeCodec(ResponseSchema, binding.response) },
};
const controlNames = { [ControlCode.Normal]: "normal", [ControlCode.Cancel]: "cancel", [ControlCode.End]: "end" } as const;

/**
 * Cases where the Rust `control` reading differs from ours, on purpose:
 * the Rust Message impl reads `code as u8` (256 → 0 normal, 258 → 2 end),
 * while we read any code other than 0/1/2 as Cancel (docs/decisions.md).
 */
const RUST_U8_TRUNCATION = new Set(["response_code_256_reads_as_normal", "response_code_258_reads_as_end"]);

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

function decodeFrames(bytes: Uint8Array): Uint8Array[] {
  const frames: Uint8Array[] = [];
  const decoder = createFrameDecoder({ maxFrameBytes: DEFAULT_MAX_FRAME_BYTES });
  decoder.push(bytes, (body) => frames.push(body.slice()));
  expect(decoder.atBoundary).toBe(true);
  return frames;
}

describe("byte vectors from the Rust crates (interop/vectors/frames.json)", () => {
  it("holds the expected set of cases", () => {
    expect(file.cases.length).toBe(41);
    expect(new Set(file.cases.map((c) => c.name)).size).toBe(file.cases.length);
  });

  for (const c of file.cases) {
    describe(c.name, () => {
      const { schema, codec } = codecs[c.direction];
      const message = fromJson(schema, c.message, { registry }) as EnvelopeMessage;

      it(`encodes to exactly ${c.frame_hex.length > 40 ? `${c.frame_hex.slice(0, 40)}…` : c.frame_hex}`, () => {
        expect(hex(encodeFrame(codec.encode(message), DEFAULT_MAX_FRAME_BYTES))).toBe(c.frame_hex);
      });

      it("also encodes byte for byte when the envelope is built through the codec (create, then set the body)", () => {
        const env = codec.create(codec.readId(message), codec.readCode(message));
        // Copy the raw code (a code outside 0..2 is data here, not a control code we would send).
        env[binding[c.direction].code.localName] = message[binding[c.direction].code.localName];
        const body = (message as unknown as { body: unknown }).body;
        (env as unknown as { body: unknown }).body = body;
        expect(hex(encodeFrame(codec.encode(env), DEFAULT_MAX_FRAME_BYTES))).toBe(c.frame_hex);
      });

      it("decodes from its frame to an equal message, id and control code", () => {
        const frames = decodeFrames(Buffer.from(c.frame_hex, "hex"));
        expect(frames).toHaveLength(1);
        const decoded = codec.decode(frames[0] as Uint8Array);
        expect(equals(schema, decoded, message, { registry, unknown: true, extensions: true })).toBe(true);
        expect(toJson(schema, decoded, { registry })).toEqual(c.message);
        expect(codec.readId(decoded)).toBe(codec.readId(message));
        const ours = controlNames[codec.readCode(decoded)];
        if (RUST_U8_TRUNCATION.has(c.name)) {
          // Documented difference: we read it as Cancel, the Rust peer as c.control.
          expect(ours).toBe("cancel");
          expect(c.control).not.toBe("cancel");
        } else {
          expect(ours).toBe(c.control);
        }
      });
    });
  }

  it("decodes all frames concatenated into one stream, split at every byte", () => {
    const all = Buffer.from(file.cases.map((c) => c.frame_hex).join(""), "hex");
    const frames: string[] = [];
    const decoder = createFrameDecoder();
    for (let i = 0; i < all.length; i++) decoder.push(all.subarray(i, i + 1), (b) => frames.push(hex(b)));
    expect(decoder.atBoundary).toBe(true);
    expect(frames).toEqual(file.cases.map((c) => hex(decodeFrames(Buffer.from(c.frame_hex, "hex"))[0] as Uint8Array)));
  });
});
