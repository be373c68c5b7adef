/**
 * MessagePack values as rmp_serde writes and reads them: an f64 is always a
 * float 64 (−0.0 keeps its sign), a map's keys are what its key schema says
 * (a HashMap<u32, String> has integer keys, never converted to strings, and
 * a string-keyed map refuses them), and "__proto__" or any other key of
 * Object.prototype is an ordinary key: over a live connection it round-trips
 * in a message's map and in metadata, and the connection serves on. Metadata
 * limits and the nesting limit hold for MessagePack envelopes too.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Code, connect, createClient, createServer, type ConnectionTransport, type RpcError, type Server } from "../src/index.js";
import * as mp from "../src/messagepack.js";
import { codecsOf } from "../src/protocol.js";
import { MpReader } from "../src/messagepack/mp-reader.js";
import { MpWriter } from "../src/messagepack/mp-writer.js";
import { NotesService, sampleNote } from "./support/messagepack-services.js";

const writer = new MpWriter();
const bytesOf = <T>(s: mp.Schema<T>, v: T): number[] => [...writer.encode(s.toWire(v, "v"))];
const readOf = <T>(s: mp.Schema<T>, bytes: number[]): T =>
  (s.read as (r: MpReader) => T)(new MpReader().reset(Uint8Array.from(bytes), 0, bytes.length, "v"));

describe("MessagePack values as rmp_serde writes them", () => {
  it("writes an f64 as float 64 whatever its value: −0.0 keeps its sign, 2.0 stays a float", () => {
    expect(bytesOf(mp.f64, -0)).toEqual([0xcb, 0x80, 0, 0, 0, 0, 0, 0, 0]);
    expect(bytesOf(mp.f64, 2)).toEqual([0xcb, 0x40, 0, 0, 0, 0, 0, 0, 0]);
    expect(Object.is(readOf(mp.f64, [0xcb, 0x80, 0, 0, 0, 0, 0, 0, 0]), -0)).toBe(true);
    // rmp_serde reads integers into an f64; so do we.
    expect(readOf(mp.f64, [0x05])).toBe(5);
  });

  it("writes a HashMap<u32, String> with integer keys and reads them back as numbers; a string-keyed map refuses them", () => {
    const schema = mp.map(mp.u32, mp.string);
    const value = new Map([
      [1, "a"],
      [300, "b"],
    ]);
    // What rmp_serde writes for HashMap<u32, String> {1: "a", 300: "b"} (in this order).
    const rmp = [0x82, 0x01, 0xa1, 0x61, 0xcd, 0x01, 0x2c, 0xa1, 0x62];
    expect(bytesOf(schema, value)).toEqual(rmp);
    expect(readOf(schema, rmp)).toEqual(value);
    expect(() => readOf(mp.map(mp.string), rmp)).toThrow(/v: expected a string key \(HashMap<String, string>\), got integer 1/);
    expect(() => readOf(schema, [0x81, 0xa1, 0x31, 0xa1, 0x61])).toThrow(/v\.key: expected u32/);
    expect(() => schema.toWire(new Map([[-1, "x"]]), "v")).toThrow(/u32/);
    // A BTreeMap<String, u64> as a Map of strings, a BTreeMap<i64, bool> with negative keys.
    expect(readOf(mp.map(mp.string, mp.u64), [0x81, 0xa1, 0x6b, 0xcf, 0, 0, 0, 1, 0, 0, 0, 0])).toEqual(new Map([["k", 2 ** 32]]));
    expect(bytesOf(mp.map(mp.i64, mp.bool), new Map([[-5, true]]))).toEqual([0x81, 0xfb, 0xc3]);
  });

  it("reads '__proto__', 'constructor' and 'toString' as ordinary keys of a string-keyed map", () => {
    const schema = mp.map(mp.string);
    const bytes = [
      0x83,
      0xa9,
      ...Buffer.from("__proto__"),
      0xa1,
      0x70,
      0xab,
      ...Buffer.from("constructor"),
      0xa1,
      0x63,
      0xa8,
      ...Buffer.from("toString"),
      0xa1,
      0x74,
    ];
    const read = readOf(schema, bytes);
    expect(Object.getPrototypeOf(read)).toBe(Object.prototype);
    expect(Object.entries(read)).toEqual([
      ["__proto__", "p"],
      ["constructor", "c"],
      ["toString", "t"],
    ]);
    expect(bytesOf(schema, read)).toEqual(bytes);
  });
});

describe("MessagePack over a live connection", () => {
  let server: Server | undefined;
  let transport: ConnectionTransport | undefined;
  afterEach(async () => {
    transport?.close();
    await server?.close({ graceMs: 0 });
    server = undefined;
  });

  async function start(options: Parameters<typeof createServer>[0] = {}) {
    const seen: ReadonlyMap<string, string>[] = [];
    server = createServer(options);
    server.register(NotesService, {
      put(note, ctx) {
        seen.push(new Map(ctx.metadata));
        for (const [k, v] of ctx.metadata) ctx.trailers.set(k, v);
        return note;
      },
      async *list() {},
      wait: () => ({}),
      fail: () => ({}),
    });
    const { port } = await server.listen();
    transport = await connect({ port });
    return { client: createClient(NotesService, transport), seen };
  }

  it("round-trips '__proto__' keys in a message's map and in metadata and trailers, −0.0 in an f64; the connection serves on", async () => {
    const { client, seen } = await start();
    const attributes: Record<string, string> = {};
    for (const k of ["__proto__", "constructor", "hasOwnProperty"])
      Object.defineProperty(attributes, k, { value: `v-${k}`, enumerable: true });
    const metadata = new Map([
      ["__proto__", "m"],
      ["constructor", "c"],
    ]);
    let trailers: ReadonlyMap<string, string> | undefined;
    const res = await client.put({ ...sampleNote(), score: -0, attributes }, { metadata, onTrailer: (t) => (trailers = t) });
    expect(Object.entries(res.attributes)).toEqual(Object.entries(attributes));
    expect(Object.is(res.score, -0)).toBe(true);
    expect(seen).toEqual([metadata]);
    expect(trailers).toEqual(metadata);
    expect((await client.put(sampleNote(8))).id).toBe(8);
    expect(transport?.isClosed).toBe(false);
  });

  it("refuses a request past the metadata limits with resource_exhausted naming the option; trailers past the client's fail its call", async () => {
    const { client, seen } = await start({ maxMetadataEntries: 3, maxMetadataBytes: 64 });
    const many = new Map(Array.from({ length: 4 }, (_, i) => [`k${i}`, "v"]));
    const error = (await client.put(sampleNote(), { metadata: many }).catch((e: unknown) => e)) as RpcError;
    expect(error.code).toBe(Code.ResourceExhausted);
    expect(error.message).toContain("the server's limit of 3 entries per frame (maxMetadataEntries)");
    const large = (await client.put(sampleNote(), { metadata: new Map([["k", "v".repeat(80)]]) }).catch((e: unknown) => e)) as RpcError;
    expect(large.message).toContain("(maxMetadataBytes)");
    expect(seen).toEqual([]);
    // The handler echoes metadata as trailers: 3 entries pass the server, not a client that takes 2.
    const strict = await connect({ port: (server as Server).address?.port as number, maxMetadataEntries: 2 });
    try {
      const three = new Map(Array.from({ length: 3 }, (_, i) => [`k${i}`, "v"]));
      const failed = (await createClient(NotesService, strict)
        .put(sampleNote(), { metadata: three })
        .catch((e: unknown) => e)) as RpcError;
      expect(failed.code).toBe(Code.ResourceExhausted);
      expect(failed.message).toContain("this client's limit of 2 entries per frame (maxMetadataEntries)");
    } finally {
      strict.close();
    }
    expect((await client.put(sampleNote(9))).id).toBe(9);
  });

  it("decodes an envelope whose metadata is past a limit without building it, and still reads its case", () => {
    const codecs = codecsOf(NotesService);
    const put = codecs.methods.find((m) => m.fullName === "test.NotesService/Put");
    if (put === undefined) throw new Error("no Put");
    const metadata = new Map(Array.from({ length: 50 }, (_, i) => [`key-${i}`, "value"]));
    const bytes = codecs.request.encode(4, 0, put.request, sampleNote() as never, { metadata });
    const over = codecs.request.decode(bytes, { maxMetadataEntries: 49, maxMetadataBytes: 1 << 20 });
    expect(over.metadataOverLimit).toEqual({ option: "maxMetadataEntries", limit: 49 });
    expect(over.metadata).toBeUndefined();
    expect(over.carried).toBe(put.request);
    expect(over.read(put.request)).toMatchObject({ title: "hello" });
    const bytesOver = codecs.request.decode(bytes, { maxMetadataEntries: 50, maxMetadataBytes: 200 });
    expect(bytesOver.metadataOverLimit).toEqual({ option: "maxMetadataBytes", limit: 200 });
    expect(codecs.request.decode(bytes).metadata).toEqual(metadata);
  });
});
