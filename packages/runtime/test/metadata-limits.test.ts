/**
 * Metadata limits (maxMetadataEntries, maxMetadataBytes), protobuf: counted
 * while the envelope is read, before anything of the metadata is built, in
 * both envelope codecs. A request past them is answered resource_exhausted
 * naming the option and not run; the connection serves on. A response whose
 * trailers are past the client's limits fails its call the same way. The
 * options are checked where they enter.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  Code,
  connect,
  createClient,
  createMemoryTransport,
  createServer,
  RpcError,
  type ConnectionTransport,
  type Server,
  type ServiceImpl,
} from "../src/index.js";
import { createEnvelopeWire } from "../src/protocol.js";
import type { EchoService } from "@protosocket/gen/echo/v1/echo_pb.js";
import { frameOf, rawClient } from "./support/raw.js";
import { memory, retainedMemory } from "./support/reliability.js";
import { echoDef } from "./support/services.js";

/** Echo handlers that record the metadata they saw and send `trailers` back. */
function handlers(seen: ReadonlyMap<string, string>[], trailers: Record<string, string> = {}): ServiceImpl<typeof EchoService> {
  return {
    echo(req, ctx) {
      seen.push(new Map(ctx.metadata));
      for (const [k, v] of Object.entries(trailers)) ctx.trailers.set(k, v);
      return { message: req.message, payload: req.payload };
    },
    async *count() {},
    fail() {
      return {};
    },
  };
}

function entries(n: number, valueBytes = 1): Map<string, string> {
  return new Map(Array.from({ length: n }, (_, i) => [`k${i}`, "v".repeat(valueBytes)]));
}

describe("metadata limits (protobuf)", () => {
  let server: Server | undefined;
  const transports: ConnectionTransport[] = [];
  afterEach(async () => {
    for (const t of transports.splice(0)) t.close();
    await server?.close({ graceMs: 0 });
    server = undefined;
  });

  async function start(options: Parameters<typeof createServer>[0], trailers?: Record<string, string>) {
    const seen: ReadonlyMap<string, string>[] = [];
    server = createServer(options);
    server.register(echoDef, handlers(seen, trailers));
    const { port } = await server.listen();
    return { seen, port };
  }

  for (const generic of [false, true]) {
    it(`the ${generic ? "generic" : "specialised"} envelope codec reports the limit passed, builds no metadata, and still reads the case`, () => {
      const wire = createEnvelopeWire(
        echoDef.requestEnvelope,
        echoDef.binding.request,
        echoDef.binding.methods.map((m) => m.request),
        {
          generic,
        },
      );
      expect(wire.fast).toBe(!generic);
      const target = wire.target(echoDef.binding.methods[0]?.request as never);
      const bytes = wire.encode(9, 0, target, { message: "hi" }, { metadata: entries(5, 10) });
      const limits = (maxMetadataEntries: number, maxMetadataBytes: number) => ({ maxMetadataEntries, maxMetadataBytes });
      const within = wire.decode(bytes, limits(5, 10_000));
      expect([within.metadataOverLimit, within.metadata?.size]).toEqual([undefined, 5]);
      for (const [l, option] of [
        [limits(4, 10_000), "maxMetadataEntries"],
        [limits(5, 40), "maxMetadataBytes"],
      ] as const) {
        const over = wire.decode(bytes, l);
        expect(over.metadataOverLimit?.option).toBe(option);
        expect(over.metadata).toBeUndefined();
        expect([over.id, over.code, over.carried]).toEqual([9, 0, target]);
        expect(over.read(target)).toMatchObject({ message: "hi" });
      }
    });
  }

  for (const kind of ["tcp", "memory"] as const) {
    it(`refuses a request past either limit with resource_exhausted naming it, without running it; the connection serves on (${kind})`, async () => {
      const { seen, port } = await start({ maxMetadataEntries: 4, maxMetadataBytes: 100 });
      const t = kind === "tcp" ? await connect({ port }) : createMemoryTransport(server as Server);
      transports.push(t);
      const client = createClient(echoDef, t);
      const entriesError = await client.echo({ message: "x" }, { metadata: entries(5) }).catch((e: unknown) => e);
      expect(entriesError).toBeInstanceOf(RpcError);
      expect(entriesError).toMatchObject({ code: Code.ResourceExhausted });
      expect((entriesError as RpcError).message).toContain("the server's limit of 4 entries per frame (maxMetadataEntries)");
      const bytesError = await client.echo({ message: "x" }, { metadata: entries(2, 60) }).catch((e: unknown) => e);
      expect(bytesError).toMatchObject({ code: Code.ResourceExhausted });
      expect((bytesError as RpcError).message).toContain("the server's limit of 100 bytes per frame (maxMetadataBytes)");
      expect(seen).toEqual([]);
      expect(await client.echo({ message: "ok" }, { metadata: entries(4) })).toMatchObject({ message: "ok" });
      expect(seen).toEqual([entries(4)]);
    });
  }

  it("answers a 4 MiB frame of 300,000 metadata entries (the issue's attack) at once, building none of them", async () => {
    const { seen, port } = await start({});
    const peer = await rawClient(port, echoDef);
    const env = {
      messageId: 1n,
      controlCode: 0,
      body: { case: "echo", value: { message: "m" } },
      metadata: Object.fromEntries(Array.from({ length: 300_000 }, (_, i) => [`k${i}`, ""])),
    };
    const frame = frameOf(echoDef, "request", env as never);
    expect(frame.length).toBeGreaterThan(3.5 * 1024 * 1024);
    const base = retainedMemory();
    const before = memory();
    peer.write(frame);
    await peer.waitFor(1);
    const after = memory();
    const answer = peer.received[0]?.body as { case: string; value: { code: number; message: string } };
    expect(answer.case).toBe("error");
    expect(answer.value.code).toBe(Code.ResourceExhausted);
    expect(answer.value.message).toContain("(maxMetadataEntries)");
    expect(seen).toEqual([]);
    console.log(`a 4 MiB frame of 300,000 metadata entries, refused: RSS +${(after.rss - before.rss).toFixed(1)} MiB`);
    // The frame itself is 4 MiB (and its decoding a few buffers of that size); building the entries took 160 MiB.
    expect(after.rss - before.rss).toBeLessThan(64);
    expect(retainedMemory() - base).toBeLessThan(16);
    peer.socket.destroy();
  });

  it("fails a call whose response carries trailers past the client's limits with resource_exhausted naming it", async () => {
    const { port } = await start({}, Object.fromEntries(entries(6)));
    const t = await connect({ port, maxMetadataEntries: 5 });
    transports.push(t);
    const client = createClient(echoDef, t);
    const error = await client.echo({ message: "x" }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: Code.ResourceExhausted });
    expect((error as RpcError).message).toContain("this client's limit of 5 entries per frame (maxMetadataEntries)");
    const roomy = await connect({ port, maxMetadataEntries: 6 });
    transports.push(roomy);
    let trailers: ReadonlyMap<string, string> | undefined;
    await createClient(echoDef, roomy).echo({ message: "x" }, { onTrailer: (tr) => (trailers = tr) });
    expect(trailers?.size).toBe(6);
  });

  it("checks the options where they enter, naming them", async () => {
    for (const [name, value] of [
      ["maxMetadataEntries", -1],
      ["maxMetadataEntries", 1.5],
      ["maxMetadataBytes", Number.NaN],
      ["maxMetadataBytes", "16k"],
    ] as const) {
      expect(() => createServer({ [name]: value })).toThrow(new RegExp(`invalid option ${name}`));
      await expect(connect({ port: 1, [name]: value })).rejects.toThrow(new RegExp(`invalid option ${name}`));
    }
  });
});
