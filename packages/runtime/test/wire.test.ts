import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createFrameDecoder, encodeFrame, FrameError, type Framing } from "../src/protocol.js";
import { varintFraming } from "../src/wire/framing.js";
import { messagePackFraming } from "../src/wire/messagepack-framing.js";
import { readLengthPrefix, varintSize } from "../src/wire/varint-prefix.js";

function decodeAll(chunks: Uint8Array[], maxFrameBytes = 1 << 20, framing: Framing = varintFraming): Uint8Array[] {
  const decoder = createFrameDecoder({ maxFrameBytes, framing });
  const out: Uint8Array[] = [];
  for (const c of chunks) decoder.push(c, (b) => out.push(b.slice()));
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((n, p) => n + p.byteLength, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

/** Splits `bytes` at the given cut points. */
function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.byteLength + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  out.push(bytes.subarray(prev));
  return out;
}

describe("frame encoding", () => {
  it("writes the minimal varint prefix", () => {
    expect([...encodeFrame(new Uint8Array(0), 100)]).toEqual([0]);
    expect([...encodeFrame(new Uint8Array(127), 1000).subarray(0, 1)]).toEqual([0x7f]);
    expect([...encodeFrame(new Uint8Array(128), 1000).subarray(0, 2)]).toEqual([0x80, 0x01]);
    expect([...encodeFrame(new Uint8Array(16384), 1 << 20).subarray(0, 3)]).toEqual([0x80, 0x80, 0x01]);
    expect(varintSize(4_194_304)).toBe(4);
  });

  it("refuses a frame over the limit, prefix included", () => {
    expect(encodeFrame(new Uint8Array(99), 100).byteLength).toBe(100);
    expect(() => encodeFrame(new Uint8Array(100), 100)).toThrow(FrameError);
    expect(() => encodeFrame(new Uint8Array(100), 100)).toThrow(/101 bytes exceeds the limit of 100 bytes/);
  });

  it("reads prefixes and rejects malformed ones", () => {
    expect(readLengthPrefix(new Uint8Array([0x80, 0x80, 0x80, 0x02]), 0, 4)).toEqual({ kind: "ok", length: 4_194_304, prefixBytes: 4 });
    expect(readLengthPrefix(new Uint8Array([0x80, 0x80]), 0, 2)).toEqual({ kind: "incomplete" });
    // A non-minimal prefix is accepted.
    expect(readLengthPrefix(new Uint8Array([0x85, 0x00]), 0, 2)).toEqual({ kind: "ok", length: 5, prefixBytes: 2 });
    const eleven = new Uint8Array(11).fill(0x80);
    eleven[10] = 0;
    expect(readLengthPrefix(eleven, 0, 11).kind).toBe("malformed");
    const overflow = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]);
    expect(readLengthPrefix(overflow, 0, 10)).toEqual({ kind: "malformed", reason: "varint length prefix overflows 64 bits" });
  });
});

describe("frame decoder", () => {
  it("rejects a frame that declares 2 GiB without waiting for it", () => {
    const decoder = createFrameDecoder();
    expect(() => decoder.push(new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x08]), () => {})).toThrow(/exceeds the limit of 4194304 bytes/);
  });

  it("stays failed after a violation", () => {
    const decoder = createFrameDecoder();
    const bad = new Uint8Array(11).fill(0xff);
    expect(() => decoder.push(bad, () => {})).toThrow(FrameError);
    expect(() => decoder.push(new Uint8Array([0]), () => {})).toThrow(FrameError);
  });
});

describe.each([
  ["varint", varintFraming],
  ["MessagePack uint32", messagePackFraming],
] as const)("frame decoder, %s framing", (_name, framing) => {
  it("decodes the same frames for any segmentation of a valid stream", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 30 }), (bodies, cuts) => {
        const stream = concat(bodies.map((b) => encodeFrame(b, 1 << 20, framing)));
        const frames = decodeAll(split(stream, cuts), 1 << 20, framing);
        expect(frames.map((f) => [...f])).toEqual(bodies.map((b) => [...b]));
      }),
      { numRuns: 500 },
    );
  });

  it("decodes large frames split into many chunks", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200_000 }), fc.integer({ min: 1, max: 5000 }), (size, chunk) => {
        const body = Buffer.alloc(size, 7);
        body[size - 1] = 3;
        const stream = concat([encodeFrame(body, 1 << 20, framing), encodeFrame(new Uint8Array([9]), 100, framing)]);
        const chunks: Uint8Array[] = [];
        for (let o = 0; o < stream.byteLength; o += chunk) chunks.push(stream.subarray(o, o + chunk));
        const frames = decodeAll(chunks, 1 << 20, framing);
        expect(frames.length).toBe(2);
        expect(Buffer.from(frames[0] as Uint8Array).equals(body)).toBe(true);
        expect([...(frames[1] as Uint8Array)]).toEqual([9]);
      }),
      { numRuns: 50 },
    );
  });

  it("ends arbitrary bytes in frames or a clean FrameError, never another exception", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2000 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        fc.integer({ min: 1, max: 4096 }),
        (bytes, cuts, max) => {
          const decoder = createFrameDecoder({ maxFrameBytes: max, framing });
          let total = 0;
          try {
            for (const c of split(bytes, cuts)) {
              decoder.push(c, (b) => {
                expect(b.byteLength).toBeLessThan(max);
                total += b.byteLength;
              });
            }
          } catch (e) {
            expect(e).toBeInstanceOf(FrameError);
            return;
          }
          // Whatever was not handed out is held as an incomplete frame.
          expect(total + decoder.bufferedBytes).toBeLessThanOrEqual(bytes.byteLength);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("refuses a declared size over the limit as soon as the prefix is read, before allocating", () => {
    fc.assert(
      fc.property(fc.integer({ min: 64, max: 2 ** 32 - 1 }), fc.integer({ min: 16, max: 63 }), (declared, max) => {
        const prefix = new Uint8Array(framing.prefixSize(declared));
        framing.writePrefix(declared, prefix, 0);
        const decoder = createFrameDecoder({ maxFrameBytes: max, framing });
        let error: unknown;
        try {
          decoder.push(prefix, () => expect.unreachable());
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(FrameError);
        expect((error as FrameError).kind).toBe("frame-too-large");
        expect((error as FrameError).frameBytes).toBe(declared + prefix.byteLength);
        expect(decoder.bufferedBytes).toBe(0);
      }),
      { numRuns: 300 },
    );
  });
});

describe("MessagePack uint32 framing", () => {
  it("writes 0xce and 4 big-endian bytes, as rmp::encode::write_u32 does", () => {
    expect([...encodeFrame(new Uint8Array([0x90]), 100, messagePackFraming)]).toEqual([0xce, 0, 0, 0, 1, 0x90]);
    const big = encodeFrame(new Uint8Array(0x012345), 1 << 20, messagePackFraming);
    expect([...big.subarray(0, 5)]).toEqual([0xce, 0x00, 0x01, 0x23, 0x45]);
  });

  it("counts the 5-byte prefix in the frame limit", () => {
    expect(() => encodeFrame(new Uint8Array(12), 16, messagePackFraming)).toThrow(/frame of 17 bytes exceeds the limit of 16 bytes/);
    expect(encodeFrame(new Uint8Array(11), 16, messagePackFraming).byteLength).toBe(16);
  });

  it("refuses any other first byte at once, as the Rust decoder does (rmp::decode::read_u32 takes only 0xce)", () => {
    // A positive fixint, a uint8, a uint16 and a uint64 hold lengths too, but not for protosocket-messagepack.
    for (const first of [0x05, 0xcc, 0xcd, 0xcf, 0x00, 0xff]) {
      const decoder = createFrameDecoder({ framing: messagePackFraming });
      expect(() => decoder.push(new Uint8Array([first]), () => {})).toThrow(/must be a uint32 \(marker 0xce\)/);
    }
  });

  it("waits for the whole prefix when it arrives byte by byte", () => {
    const frames = decodeAll(
      [[0xce], [0], [0], [0], [2], [7], [8]].map((b) => new Uint8Array(b)),
      100,
      messagePackFraming,
    );
    expect(frames.map((f) => [...f])).toEqual([[7, 8]]);
  });

  it("refuses a declared 4 GiB frame under the default 4 MiB limit", () => {
    const decoder = createFrameDecoder({ framing: messagePackFraming });
    expect(() => decoder.push(new Uint8Array([0xce, 0xff, 0xff, 0xff, 0xff]), () => {})).toThrow(
      /frame of 4294967300 bytes exceeds the limit of 4194304 bytes/,
    );
  });
});
