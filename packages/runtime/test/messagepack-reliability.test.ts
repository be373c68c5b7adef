/**
 * The MessagePack encoding under property tests and hostile peers: schemas
 * and envelopes round-trip any value, any bytes decode to an envelope or a
 * clean TypeError, and a live server survives arbitrary MessagePack-framed
 * byte streams and huge declared frames with bounded memory, while a
 * healthy client keeps calling.
 */
import { encode } from "@msgpack/msgpack";
import fc from "fast-check";
import { connect as netConnect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, connect, createClient, createServer, type ConnectionTransport, type RpcError, type Server } from "../src/index.js";
import { codecsOf } from "../src/encoding/codecs.js";
import type { FrameSink } from "../src/encoding/envelope-wire.js";
import { memory, mib, retainedMemory, sleep, trapProcessErrors, until, whenClosed } from "./support/reliability.js";
import { i64, u64 } from "../src/messagepack.js";
import { NotesService, PingService, type Note } from "./support/messagepack-services.js";

const u64Arb = fc.oneof(fc.nat(), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }));
const i64Arb = fc.oneof(fc.integer(), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }));
const noteArb: fc.Arbitrary<Note> = fc.record({
  id: u64Arb,
  title: fc.string(),
  body: fc.uint8Array({ maxLength: 64 }),
  tags: fc.array(fc.string(), { maxLength: 4 }),
  score: fc.double({ noNaN: true }),
  delta: i64Arb,
  pinned: fc.boolean(),
  author: fc.option(fc.record({ name: fc.string(), id: u64Arb }), { nil: undefined }),
  priority: fc.oneof(fc.constantFrom("Low" as const, "High" as const), fc.record({ Custom: fc.integer({ min: 0, max: 255 }) })),
  attributes: fc.dictionary(fc.oneof(fc.string(), fc.constantFrom("__proto__", "constructor", "toString")), fc.string(), { maxKeys: 3 }),
});

/** A 64-bit value as the decoder returns it: a number while exact. */
function normal(v: number | bigint): number | bigint {
  return typeof v === "bigint" && v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function normalNote(n: Note): Note {
  return {
    ...n,
    id: normal(n.id),
    delta: normal(n.delta),
    author: n.author === undefined ? undefined : { ...n.author, id: normal(n.author.id) },
  };
}

describe("MessagePack envelopes, property tests", () => {
  const codecs = codecsOf(NotesService);
  const put = codecs.methods.find((m) => m.fullName === "test.NotesService/Put");
  if (put === undefined) throw new Error("no Put method");

  it("round-trip any message, id and control code through both envelopes (encode and the sink path alike)", () => {
    fc.assert(
      fc.property(noteArb, u64Arb, fc.constantFrom(0 as const, 1 as const, 2 as const), (note, id, code) => {
        for (const [wire, target] of [
          [codecs.request, put.request],
          [codecs.response, put.response],
        ] as const) {
          let sent: Uint8Array | undefined;
          const sink: FrameSink = {
            send: (body, head) => {
              sent = new Uint8Array([...(head ?? []), ...body]);
            },
          };
          wire.write(sink, id, code, target, note as never);
          const bytes = wire.encode(id, code, target, note as never);
          expect(sent).toEqual(bytes);
          const inbound = wire.decode(bytes);
          expect(inbound.id).toEqual(normal(id));
          expect(inbound.code).toBe(code);
          expect(inbound.carried).toBe(target);
          const read = inbound.read(target) as unknown as Note;
          expect(read).toEqual(normalNote(note));
          expect(Object.is(read.score, note.score)).toBe(true);
          expect(Object.entries(read.attributes)).toEqual(Object.entries(note.attributes));
          expect(wire.peekId(bytes.subarray(0, 12))).toEqual(normal(id));
        }
      }),
      { numRuns: 500 },
    );
  });

  it("write 64-bit integers in their smallest integer form, as rmp's write_uint / write_sint do (never as floats)", () => {
    const rmp = (v: bigint): number[] => {
      const be = (n: bigint, bytes: number) =>
        Array.from({ length: bytes }, (_, i) => Number((BigInt.asUintN(bytes * 8, n) >> BigInt(8 * (bytes - 1 - i))) & 0xffn));
      if (v >= 0n) {
        if (v < 128n) return [Number(v)];
        if (v < 256n) return [0xcc, ...be(v, 1)];
        if (v < 65536n) return [0xcd, ...be(v, 2)];
        if (v < 4294967296n) return [0xce, ...be(v, 4)];
        return [0xcf, ...be(v, 8)];
      }
      if (v >= -32n) return be(v, 1);
      if (v >= -128n) return [0xd0, ...be(v, 1)];
      if (v >= -32768n) return [0xd1, ...be(v, 2)];
      if (v >= -2147483648n) return [0xd2, ...be(v, 4)];
      return [0xd3, ...be(v, 8)];
    };
    const wire = codecsOf(PingService).response;
    fc.assert(
      fc.property(fc.oneof(u64Arb, i64Arb), (v) => {
        const schema = typeof v === "bigint" ? (v < 0n ? i64 : u64) : v < 0 ? i64 : u64;
        expect([...encode(schema.toWire(v, "v"), { useBigInt64: true })]).toEqual(rmp(BigInt(v)));
        if (v >= 0) {
          // The envelope's id: [id, code, body, metadata]
          expect([...wire.encode(v, 0)].slice(1, -3)).toEqual(rmp(BigInt(v)));
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("decode any bytes, and any MessagePack value, to an envelope or a TypeError, never another exception", () => {
    const anyValue = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: "small" },
        fc.constant(null),
        fc.boolean(),
        fc.integer(),
        fc.double(),
        fc.string(),
        fc.uint8Array({ maxLength: 8 }),
        fc.array(tie("value"), { maxLength: 5 }),
        fc.dictionary(fc.constantFrom("Put", "List", "Ping", "request_id", "code", "body", "x"), tie("value"), { maxKeys: 3 }),
      ),
    })).value;
    const envelopeLike = fc
      .tuple(fc.oneof(u64Arb, anyValue), fc.oneof(fc.nat(5), anyValue), anyValue, anyValue, anyValue)
      .map((v) => encode(v, { useBigInt64: true }));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          envelopeLike.map((b) => new Uint8Array(b)),
        ),
        (bytes) => {
          for (const wire of [codecs.request, codecs.response]) {
            try {
              const inbound = wire.decode(bytes);
              if (inbound.carried !== undefined) inbound.read(inbound.carried);
            } catch (e) {
              expect(e).toBeInstanceOf(TypeError);
            }
            wire.peekId(bytes);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});

/** A raw TCP connection that writes MessagePack-framed bytes. */
async function openRaw(port: number): Promise<Socket> {
  const socket = netConnect({ port });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("error", reject);
  });
  socket.on("error", () => {});
  return socket;
}

function framed(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + body.length);
  out[0] = 0xce;
  new DataView(out.buffer).setUint32(1, body.length);
  out.set(body, 5);
  return out;
}

describe("a MessagePack server under hostile peers", () => {
  let server: Server;
  let port: number;
  const errors: { peer: string; error: RpcError }[] = [];
  let traps: ReturnType<typeof trapProcessErrors>;
  let healthyTransport: ConnectionTransport;
  const healthy = { ok: 0, failed: [] as unknown[], stop: false, done: Promise.resolve() };

  beforeAll(async () => {
    traps = trapProcessErrors();
    server = createServer({ onConnectionError: (error, peer) => errors.push({ peer, error }) });
    server.register(PingService, { ping: () => ({}) });
    ({ port } = await server.listen());
    healthyTransport = await connect({ port });
    const client = createClient(PingService, healthyTransport);
    healthy.done = (async () => {
      while (!healthy.stop) {
        try {
          await client.ping({}, { timeoutMs: 5000 });
          healthy.ok++;
        } catch (e) {
          healthy.failed.push(e);
        }
        await sleep(2);
      }
    })();
  });

  afterAll(async () => {
    healthy.stop = true;
    await healthy.done;
    healthyTransport.close();
    await server.close({ graceMs: 0 });
    traps.dispose();
  });

  it("survives arbitrary framed and unframed byte streams, each on its own connection", async () => {
    const okBefore = healthy.ok;
    const stream = fc.array(
      fc.oneof(
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        fc.uint8Array({ maxLength: 64 }).map(framed),
        fc.tuple(u64Arb, fc.nat(3)).map(([id, code]) => framed(encode([id, code, { Ping: [] }, null, 0], { useBigInt64: true }))),
      ),
      { minLength: 1, maxLength: 6 },
    );
    await fc.assert(
      fc.asyncProperty(stream, async (chunks) => {
        const socket = await openRaw(port);
        const peer = `127.0.0.1:${socket.localPort}`;
        const before = errors.length;
        let weClosed = false;
        let serverClosed = false;
        const closed = whenClosed(socket).then(() => (serverClosed = !weClosed));
        for (const c of chunks) {
          if (socket.destroyed) break;
          socket.write(c);
          await new Promise((r) => setImmediate(r));
        }
        await Promise.race([closed, sleep(15)]);
        if (serverClosed) {
          expect(
            errors
              .slice(before)
              .filter((e) => e.peer === peer)
              .map((e) => e.error.message)
              .join("\n"),
          ).toMatch(/protocol violation/);
        }
        weClosed = true;
        socket.destroy();
        await until(
          () => server.connections === 1,
          () => `the server to drop ${peer}`,
        );
      }),
      { numRuns: 200 },
    );
    expect(traps.errors).toEqual([]);
    expect(healthy.failed).toEqual([]);
    expect(healthy.ok).toBeGreaterThan(okBefore);
  });

  it("refuses a frame that declares 4 GiB at its prefix, without allocating it, naming the limit", async () => {
    const base = retainedMemory();
    const before = memory();
    // Ports are reused: only errors reported after this connection opened are its own.
    const seenBefore = errors.length;
    const socket = await openRaw(port);
    const peer = `127.0.0.1:${socket.localPort}`;
    socket.write(new Uint8Array([0xce, 0xff, 0xff, 0xff, 0xfa]));
    socket.write(new Uint8Array(64 * 1024).fill(0x90));
    await whenClosed(socket);
    const after = memory();
    const [reason] = errors.slice(seenBefore).filter((e) => e.peer === peer);
    expect(reason?.error.code).toBe(Code.ResourceExhausted);
    expect(reason?.error.message).toMatch(/frame of 4294967295 bytes exceeds the limit of 4194304 bytes \(maxFrameBytes\)/);
    expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(16);
    expect(retainedMemory() - base).toBeLessThan(16);
  });

  it("refuses a body that declares an array or a map of millions of entries, without allocating it", async () => {
    const base = retainedMemory();
    const before = memory();
    for (const declared of [
      [0xdd, 0x00, 0xff, 0xff, 0xff],
      [0xdf, 0x00, 0xff, 0xff, 0xff],
      [0x93, 0x01, 0x00, 0x81, 0xa4, ...Buffer.from("Ping"), 0xdd, 0x01, 0xff, 0xff, 0xff],
    ]) {
      // Ports are reused: only errors reported after this connection opened are its own.
      const seenBefore = errors.length;
      const socket = await openRaw(port);
      const peer = `127.0.0.1:${socket.localPort}`;
      socket.write(framed(new Uint8Array([...declared, 0x01])));
      await whenClosed(socket);
      const [reason] = errors.slice(seenBefore).filter((e) => e.peer === peer);
      expect(reason?.error.message).toMatch(/protocol violation by peer: undecodable frame/);
    }
    expect(memory().rss - before.rss).toBeLessThan(64);
    expect(retainedMemory() - base).toBeLessThan(16);
  });

  it("refuses arrays and maps nested deeper than 100 before building them: a 4 MiB frame of nested arrays costs a few MiB and names the limit", async () => {
    const base = retainedMemory();
    const before = memory();
    const ping = [0x81, 0xa4, ...Buffer.from("Ping")];
    for (const head of [
      // In the body: Request [1, 0, {Ping: [[[[…]]]]}, nil, 0]
      [0x95, 0x01, 0x00, ...ping, 0x92],
      // In an unknown field of the map form: {request_id: 1, code: 0, junk: [[[[…]]]]}
      [0x83, 0xaa, ...Buffer.from("request_id"), 0x01, 0xa4, ...Buffer.from("code"), 0x00, 0xa4, ...Buffer.from("junk")],
      // Maps in the metadata field.
      [0x95, 0x01, 0x00, ...ping, 0x81, 0xa1, 0x6b],
    ]) {
      // Ports are reused: only errors reported after this connection opened are its own.
      const seenBefore = errors.length;
      const socket = await openRaw(port);
      const peer = `127.0.0.1:${socket.localPort}`;
      const body = new Uint8Array(4 * 1024 * 1024 - 5).fill(head[head.length - 1] === 0x6b ? 0x81 : 0x91);
      body.set(head, 0);
      if (head[head.length - 1] === 0x6b) for (let i = head.length; i + 1 < body.length; i += 2) body.set([0x81, 0xa0], i);
      socket.write(framed(body));
      await whenClosed(socket);
      const [reason] = errors.slice(seenBefore).filter((e) => e.peer === peer);
      expect(reason?.error.message).toMatch(/nest deeper than 100 levels \(MessagePack's nesting limit\)/);
    }
    const after = memory();
    console.log(`three 4 MiB frames of nested arrays and maps, refused: RSS +${(after.rss - before.rss).toFixed(1)} MiB`);
    // The test writes the 3 × 4 MiB frames itself (and twice: body, then framed); decoding one used to take 580 MiB.
    expect(after.rss - before.rss).toBeLessThan(64);
    expect(retainedMemory() - base).toBeLessThan(32);
  });

  it("skips an unknown field nested 99 deep unbuilt, and answers", async () => {
    const socket = await openRaw(port);
    const received: Buffer[] = [];
    socket.on("data", (d: Buffer) => received.push(d));
    const body = [
      0x84,
      0xaa,
      ...Buffer.from("request_id"),
      0x07,
      0xa4,
      ...Buffer.from("code"),
      0x00,
      0xa4,
      ...Buffer.from("body"),
      0x81,
      0xa4,
      ...Buffer.from("Ping"),
      0x90,
      0xa4,
      ...Buffer.from("junk"),
      ...new Array<number>(98).fill(0x91),
      0x90,
    ];
    socket.write(framed(Uint8Array.from(body)));
    await until(() => Buffer.concat(received).length >= 5, "the answer");
    // Response [7, 0, {Ping: []}, nil]
    expect([...Buffer.concat(received).subarray(5, 7)]).toEqual([0x94, 0x07]);
    socket.destroy();
  });

  it("holds memory in proportion to the bytes received, not to the frame sizes declared", async () => {
    const base = retainedMemory();
    const sockets: Socket[] = [];
    try {
      for (let i = 0; i < 200; i++) {
        const socket = await openRaw(port);
        // Declares a body of 4 MiB − 5 bytes (the limit with its prefix), sends 2 of them.
        socket.write(new Uint8Array([0xce, 0x00, 0x3f, 0xff, 0xfb, 0x93, 0x01]));
        sockets.push(socket);
      }
      await until(() => server.connections === 201, "200 connections");
      await sleep(200);
      const held = retainedMemory();
      console.log(
        `MessagePack framing, 200 connections each declaring a 4 MiB frame and sending 2 bytes: heap + buffers after GC ${mib(base)} → ${mib(held)}`,
      );
      expect(held - base).toBeLessThan(64);
    } finally {
      for (const s of sockets) s.destroy();
    }
    await until(() => server.connections === 1, "the connections closed");
  });
});
