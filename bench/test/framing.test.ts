// The raw ceiling's framing: the reader gives the same frames for any segmentation of the
// stream, and the batching writer loses, reorders and corrupts nothing.

import { once } from "node:events";
import { connect, createServer } from "node:net";
import { expect, test } from "vitest";
import { FrameReader, FrameWriter } from "../src/systems/framing.js";

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

test("the batching writer puts every frame on the socket in order, large ones uncopied", async () => {
  const random = prng(7);
  const frames = Array.from({ length: 300 }, (_, i) => {
    const size = i % 17 === 0 ? 16 * 1024 + Math.floor(random() * 60_000) : Math.floor(random() * 300);
    return Uint8Array.from({ length: size }, () => Math.floor(random() * 256));
  });
  const got: string[] = [];
  let done!: () => void;
  const all = new Promise<void>((resolve) => (done = resolve));
  const server = createServer((socket) => {
    const reader = new FrameReader((frame) => {
      got.push(Buffer.from(frame).toString("hex"));
      if (got.length === frames.length) done();
    });
    socket.on("data", (chunk: Buffer) => reader.push(chunk));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no address");
  const socket = connect(address.port, "127.0.0.1");
  await once(socket, "connect");
  const writer = new FrameWriter(socket);
  // Several event-loop turns, several frames per turn.
  for (let i = 0; i < frames.length; i += 25) {
    for (const frame of frames.slice(i, i + 25)) writer.write(frame);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  await all;
  socket.destroy();
  server.close();
  expect(got).toEqual(frames.map((f) => Buffer.from(f).toString("hex")));
});
