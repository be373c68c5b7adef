// The raw ceiling's frame reader gives the same frames for any segmentation of the stream.

import { expect, test } from "vitest";
import { FrameReader } from "../src/systems/framing.js";

function encode(frames: Uint8Array[]): Buffer {
  const parts: Buffer[] = [];
  for (const frame of frames) {
    const prefix: number[] = [];
    let n = frame.length;
    while (n >= 0x80) {
      prefix.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    prefix.push(n);
    parts.push(Buffer.from(prefix), Buffer.from(frame));
  }
  return Buffer.concat(parts);
}

/** A small deterministic PRNG so a failure reproduces. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

test("frames survive every way of cutting the byte stream", () => {
  const random = prng(42);
  for (let trial = 0; trial < 200; trial++) {
    const frames = Array.from({ length: 1 + Math.floor(random() * 20) }, () => {
      const size = random() < 0.2 ? Math.floor(random() * 70_000) : Math.floor(random() * 200);
      return Uint8Array.from({ length: size }, () => Math.floor(random() * 256));
    });
    const bytes = encode(frames);
    const got: Buffer[] = [];
    const reader = new FrameReader((frame) => got.push(Buffer.from(frame)));
    let pos = 0;
    while (pos < bytes.length) {
      const cut = random() < 0.3 ? 1 : 1 + Math.floor(random() * 5000);
      reader.push(bytes.subarray(pos, pos + cut));
      pos += cut;
    }
    expect(got.map((b) => b.toString("hex"))).toEqual(frames.map((f) => Buffer.from(f).toString("hex")));
  }
});
