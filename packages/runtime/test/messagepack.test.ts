/**
 * MessagePack services end to end: typed clients and handlers over TCP and
 * over the in-memory transport (unary, streams, cancellation, errors,
 * deadlines, metadata), the frames on the wire, and what is refused.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { connect as netConnect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import {
  Code,
  connect,
  createClient,
  createMemoryTransport,
  createPool,
  createServer,
  RpcError,
  type ConnectionTransport,
  type Interceptor,
  type Server,
  type ServerOptions,
} from "../src/index.js";
import type { MessagePackClient, MessagePackHandlers } from "../src/messagepack.js";
import { until } from "./support/reliability.js";
import { BareService, NotesService, PingService, sampleNote } from "./support/messagepack-services.js";
import { echoDef } from "./support/services.js";

type Notes = typeof NotesService;

interface Probe {
  aborted: number;
  lastMetadata: string | undefined;
  lastDeadline: number | undefined;
  streamed: number;
}

function notesImpl(probe: Probe): MessagePackHandlers<Notes> {
  return {
    put(note, ctx) {
      probe.lastMetadata = ctx.metadata.get("who");
      probe.lastDeadline = ctx.deadline;
      ctx.trailers.set("stored", String(note.id));
      return { ...note, title: `${note.title}!` };
    },
    async *list(req, ctx) {
      for (let n = 1; n <= req.count; n++) {
        if (req.delayMs > 0) await sleep(req.delayMs);
        if (ctx.signal.aborted) return;
        probe.streamed++;
        yield { n };
      }
    },
    async wait(req, ctx) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, req.ms);
        ctx.signal.addEventListener("abort", () => {
          clearTimeout(t);
          probe.aborted++;
          resolve();
        });
      });
      return {};
    },
    fail(req) {
      throw new RpcError(req.code as Code, req.message);
    },
  };
}

const kinds = ["tcp", "memory"] as const;

describe.each(kinds)("MessagePack service (%s)", (kind) => {
  let server: Server | undefined;
  let transport: ConnectionTransport | undefined;
  let probe: Probe;

  afterEach(async () => {
    transport?.close();
    await server?.close({ graceMs: 0 });
    server = undefined;
    transport = undefined;
  });

  async function start(options: ServerOptions = {}): Promise<MessagePackClient<Notes>> {
    probe = { aborted: 0, lastMetadata: undefined, lastDeadline: undefined, streamed: 0 };
    server = createServer(options);
    server.register(NotesService, notesImpl(probe));
    server.register(PingService, { ping: () => ({}) });
    if (kind === "tcp") {
      const { port } = await server.listen();
      transport = await connect({ port });
    } else {
      transport = createMemoryTransport(server);
    }
    return createClient(NotesService, transport);
  }

  it("round-trips a unary call with every kind of field, metadata and trailers", async () => {
    const client = await start();
    const trailers: Map<string, string>[] = [];
    const note = sampleNote(2n ** 64n - 1n);
    const res = await client.put(note, { metadata: { who: "me" }, onTrailer: (t) => trailers.push(new Map(t)) });
    expect(res).toEqual({ ...note, title: "hello!" });
    expect(typeof res.id).toBe("bigint");
    expect(res.author?.id).toBe(2n ** 60n);
    expect(probe.lastMetadata).toBe("me");
    expect(trailers).toEqual([new Map([["stored", String(2n ** 64n - 1n)]])]);
    // Small 64-bit values come back as numbers, an absent Option as undefined.
    const small = await client.put({ ...note, id: 5n, author: undefined, priority: "Low" });
    expect(small.id).toBe(5);
    expect(small.author).toBeUndefined();
    expect(small.priority).toBe("Low");
  });

  it("answers thousands of concurrent calls on one connection, each with its own response", async () => {
    const client = await start();
    const results = await Promise.all(Array.from({ length: 2000 }, (_, i) => client.put(sampleNote(i))));
    for (const [i, r] of results.entries()) expect(r.id).toBe(i);
    expect(transport?.pendingCalls).toBe(0);
  });

  it("streams in order and ends on End", async () => {
    const client = await start();
    const got: number[] = [];
    for await (const item of client.list({ count: 5000, delayMs: 0 })) got.push(item.n);
    expect(got).toHaveLength(5000);
    expect(got[4999]).toBe(5000);
  });

  it("cancels a stream left early: the server stops producing", async () => {
    const client = await start();
    let seen = 0;
    for await (const _ of client.list({ count: 1_000_000, delayMs: 1 })) {
      if (++seen === 3) break;
    }
    const before = probe.streamed;
    await sleep(100);
    expect(probe.streamed - before).toBeLessThan(5);
  });

  it("cancels a unary call with an AbortSignal: the handler's signal aborts", async () => {
    const client = await start();
    const controller = new AbortController();
    const call = client.wait({ ms: 10_000 }, { signal: controller.signal });
    await sleep(50);
    controller.abort();
    await expect(call).rejects.toMatchObject({ code: Code.Cancelled });
    await until(() => probe.aborted === 1, "the handler's signal aborted");
  });

  it("sends the deadline: the server's context has it and its signal aborts at it", async () => {
    const client = await start();
    const started = Date.now();
    await client.put(sampleNote(), { timeoutMs: 5000 });
    expect(probe.lastDeadline).toBeGreaterThanOrEqual(started + 4000);
    await expect(client.wait({ ms: 10_000 }, { timeoutMs: 100 })).rejects.toMatchObject({ code: Code.DeadlineExceeded });
    await until(() => probe.aborted === 1, "the handler's signal aborted at the deadline");
  });

  it("raises the error case as an RpcError with its code and message", async () => {
    const client = await start();
    await expect(client.fail({ code: Code.NotFound, message: "no such note" })).rejects.toMatchObject({
      code: Code.NotFound,
      rawMessage: "no such note",
    });
  });

  it("reports handler failures to onHandlerError (interceptors do not run for MessagePack services)", async () => {
    const reported: string[] = [];
    const client = await start({ onHandlerError: (e, method) => reported.push(`${method} ${e.code}`) });
    await expect(client.fail({ code: Code.Internal, message: "boom" })).rejects.toBeInstanceOf(RpcError);
    expect(reported).toEqual([`test.NotesService/Fail ${Code.Internal}`]);
  });

  it("serves two services sharing the envelopes on one connection", async () => {
    const client = await start();
    const ping = createClient(PingService, transport as ConnectionTransport);
    await expect(ping.ping({})).resolves.toEqual({});
    await expect(client.put(sampleNote())).resolves.toMatchObject({ title: "hello!" });
  });

  it("refuses a request that does not fit the schema, naming the field, and sends nothing", async () => {
    const client = await start();
    await expect(client.put({ ...sampleNote(), score: "high" as never })).rejects.toMatchObject({
      code: Code.InvalidArgument,
      rawMessage: expect.stringContaining("score"),
    });
    await expect(client.put({ ...sampleNote(), id: -1 })).rejects.toMatchObject({
      code: Code.InvalidArgument,
      rawMessage: expect.stringContaining("u64"),
    });
    expect(transport?.pendingCalls).toBe(0);
  });

  it("refuses a protobuf service on a connection that carries MessagePack, and the other way round", async () => {
    const client = await start();
    await client.put(sampleNote());
    const echo = createClient(echoDef, transport as ConnectionTransport);
    await expect(echo.echo({ message: "x" })).rejects.toMatchObject({
      code: Code.InvalidArgument,
      rawMessage: expect.stringContaining("one encoding"),
    });
  });
});

describe("MessagePack services: what is refused", () => {
  it("a failed handler answers Cancel when the envelope has no error case", async () => {
    const server = createServer();
    server.register(BareService, {
      fail() {
        throw new RpcError(Code.NotFound, "gone");
      },
    });
    const client = createClient(BareService, createMemoryTransport(server));
    await expect(client.fail({ code: 5, message: "x" })).rejects.toMatchObject({ code: Code.Cancelled });
    await server.close({ graceMs: 0 });
  });

  it("interceptors: on the server, the transport and the client, they see MessagePack calls as plain values", async () => {
    const seen: string[] = [];
    const note =
      (where: string): Interceptor =>
      (next) =>
      async (req) => {
        seen.push(`${where} > ${req.methodName} ${req.stream ? "stream" : JSON.stringify(req.message)}`);
        const res = await next(req);
        seen.push(`${where} < ${res.stream ? "stream" : JSON.stringify(res.message)}`);
        return res;
      };
    const server = createServer({ interceptors: [note("server") as never] });
    server.register(PingService, { ping: () => ({}) });
    const client = createClient(PingService, createMemoryTransport(server, { interceptors: [note("transport")] }), {
      interceptors: [note("client")],
    });
    expect(await client.ping({})).toEqual({});
    expect(seen).toEqual([
      "client > test.PingService/Ping {}",
      "transport > test.PingService/Ping {}",
      "server > test.PingService/Ping {}",
      "server < {}",
      "transport < {}",
      "client < {}",
    ]);
    await server.close({ graceMs: 0 });
  });

  it("through a pool: calls and streams work on each pooled connection, with the pool's interceptors too", async () => {
    const server = createServer();
    const probe = { aborted: 0, lastMetadata: undefined, lastDeadline: undefined, streamed: 0 };
    server.register(NotesService, notesImpl(probe));
    const { port } = await server.listen();
    const pool = createPool(`127.0.0.1:${port}`, { connectionsPerAddress: 2 });
    const intercepted = createPool(`127.0.0.1:${port}`, { interceptors: [(next) => (req) => next(req)] });
    try {
      const client = createClient(NotesService, pool);
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => client.put(sampleNote(i))));
      expect(results.map((r) => r.id)).toEqual(Array.from({ length: 50 }, (_, i) => i));
      let n = 0;
      for await (const item of client.list({ count: 100, delayMs: 0 })) n = item.n;
      expect(n).toBe(100);
      expect((await createClient(NotesService, intercepted).put(sampleNote(1))).id).toBe(1);
      expect(intercepted.stats.picks).toBe(1);
    } finally {
      pool.close();
      intercepted.close();
      await server.close({ graceMs: 0 });
    }
  });

  it("a protobuf and a MessagePack service on one server", () => {
    const server = createServer();
    server.register(PingService, { ping: () => ({}) });
    expect(() => server.register(echoDef, {} as never)).toThrow(/one encoding/);
  });
});

describe("MessagePack services on the wire", () => {
  let server: Server | undefined;
  afterEach(async () => {
    await server?.close({ graceMs: 0 });
    server = undefined;
  });

  async function raw(): Promise<{ socket: Socket; frames: Buffer[]; closed: Promise<void> }> {
    server = createServer();
    server.register(PingService, { ping: () => ({}) });
    const { port } = await server.listen();
    const socket = netConnect({ port });
    await new Promise((r) => socket.once("connect", r));
    const frames: Buffer[] = [];
    let pending = Buffer.alloc(0);
    socket.on("data", (d: Buffer) => {
      pending = Buffer.concat([pending, d]);
      while (pending.length >= 5 && pending.length >= 5 + pending.readUInt32BE(1)) {
        frames.push(pending.subarray(0, 5 + pending.readUInt32BE(1)));
        pending = pending.subarray(5 + pending.readUInt32BE(1));
      }
    });
    const closed = new Promise<void>((r) => socket.once("close", () => r()));
    return { socket, frames, closed };
  }

  it("answers the frames rmp_serde writes with the frames it writes", async () => {
    const { socket, frames } = await raw();
    // Request { request_id: 1, code: 0, body: Some(Ping(Empty {})), metadata: None, deadline_ms: 0 }
    socket.write(Buffer.from([0xce, 0, 0, 0, 12, 0x95, 0x01, 0x00, 0x81, 0xa4, ...Buffer.from("Ping"), 0x90, 0xc0, 0x00]));
    await until(() => frames.length === 1, "the response");
    // Response { request_id: 1, code: 0, body: Some(Ping(Empty {})), metadata: None }
    expect([...(frames[0] as Buffer)]).toEqual([0xce, 0, 0, 0, 11, 0x94, 0x01, 0x00, 0x81, 0xa4, ...Buffer.from("Ping"), 0x90, 0xc0]);
    socket.destroy();
  });

  it("reads the map form of structs (rmp_serde's to_vec_named)", async () => {
    const { socket, frames } = await raw();
    const body = [
      0x83,
      0xaa,
      ...Buffer.from("request_id"),
      0x02,
      0xa4,
      ...Buffer.from("code"),
      0x00,
      0xa4,
      ...Buffer.from("body"),
      0x81,
      0xa4,
      ...Buffer.from("Ping"),
      0x80,
    ];
    socket.write(Buffer.from([0xce, 0, 0, 0, body.length, ...body]));
    await until(() => frames.length === 1, "the response");
    expect((frames[0] as Buffer)[6]).toBe(0x02);
    socket.destroy();
  });

  it("closes the connection on a varint-framed (protobuf) frame, and on a body that is not the envelope", async () => {
    const first = await raw();
    first.socket.write(Buffer.from([0x03, 0x08, 0x01, 0x10]));
    await first.closed;
    await server?.close({ graceMs: 0 });
    const second = await raw();
    second.socket.write(Buffer.from([0xce, 0, 0, 0, 2, 0x92, 0x01]));
    await second.closed;
  });
});
