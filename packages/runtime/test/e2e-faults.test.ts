import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { Code, connect, createClient, RpcError, type Server, type ConnectionTransport } from "../src/index.js";
import { createEnvelopeCodec, encodeFrame } from "../src/protocol.js";
import { until } from "./support/reliability.js";
import { startEchoServer, type EchoProbe } from "./support/echo-server.js";
import { frameOf, rawClient, rawServer } from "./support/raw.js";
import { echoDef, withoutErrorCase } from "./support/services.js";

const requestCodec = createEnvelopeCodec(echoDef.requestEnvelope, echoDef.binding.request);
function echoRequest(id: bigint, message: string, code = 0): Uint8Array {
  const env = requestCodec.create(id, code as 0);
  env.body = { case: "echo", value: { $typeName: "echo.v1.EchoRequest", message, payload: new Uint8Array(0) } };
  return frameOf(echoDef, "request", env);
}

describe("faults and limits", () => {
  let server: Server | undefined;
  let probe: EchoProbe;
  let port: number;
  const transports: ConnectionTransport[] = [];
  afterEach(async () => {
    for (const t of transports.splice(0)) t.close();
    await server?.close({ graceMs: 0 });
    server = undefined;
  });
  async function start(options = {}) {
    const s = await startEchoServer(options);
    server = s.server;
    probe = s.probe;
    port = s.port;
  }
  async function client(options = {}) {
    const t = await connect({ port, ...options });
    transports.push(t);
    return { t, c: createClient(echoDef, t) };
  }

  for (const [name, bytes, reason] of [
    ["garbage bytes", new Uint8Array([0x05, 0xff, 0xff, 0xff, 0xff, 0xff]), /undecodable frame/],
    ["an 11-byte varint", new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]), /longer than 10 bytes/],
    ["a frame over the limit", new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x08]), /exceeds the limit/],
    ["invalid protobuf", encodeFrame(new Uint8Array([0x08]), 100), /undecodable frame/],
  ] as const) {
    it(`closes only the connection that sends ${name}`, async () => {
      const errors: RpcError[] = [];
      await start({ onConnectionError: (e: RpcError) => errors.push(e) });
      const { c: good } = await client();
      const pending = good.echo({ message: "sleep:200" });
      const bad = await rawClient(port, echoDef);
      bad.write(bytes);
      await bad.closed;
      expect(errors.length).toBe(1);
      expect(errors[0]?.message).toMatch(reason);
      expect(errors[0]?.message).toMatch(/peer 127\.0\.0\.1:\d+/);
      expect((await pending).message).toBe("sleep:200");
      expect((await good.echo({ message: "ok" })).message).toBe("ok");
    });

    it(`fails every call of a client whose server sends ${name}`, async () => {
      const raw = await rawServer(echoDef, (peer) => void peer.waitFor(3).then(() => peer.write(bytes)));
      try {
        const t = await connect({ port: raw.port });
        transports.push(t);
        const c = createClient(echoDef, t);
        const results = await Promise.all([1, 2, 3].map((i) => c.echo({ message: `${i}` }).catch((e: unknown) => e)));
        for (const r of results) {
          expect(r).toBeInstanceOf(RpcError);
          expect((r as RpcError).message).toMatch(reason);
          expect((r as RpcError).message).toContain(`peer 127.0.0.1:${raw.port}`);
          expect([Code.Internal, Code.ResourceExhausted]).toContain((r as RpcError).code);
        }
        expect(t.isClosed).toBe(true);
        const after = await c.echo({}).catch((e: unknown) => e);
        expect((after as RpcError).code).toBe(Code.Unavailable);
      } finally {
        await raw.close();
      }
    });
  }

  it("fails calls in flight and calls still queued with unavailable when the connection is lost", async () => {
    // A server that accepts but never reads: the client's writes back up in its queue.
    const raw = await rawServer(echoDef, (peer) => peer.socket.pause());
    try {
      const t = await connect({ port: raw.port });
      transports.push(t);
      const c = createClient(echoDef, t);
      const big = new Uint8Array(512 * 1024);
      const calls = Array.from({ length: 64 }, () => c.echo({ payload: big }).catch((e: unknown) => e));
      await sleep(100);
      await raw.close();
      const results = await Promise.all(calls);
      for (const r of results) {
        expect(r).toBeInstanceOf(RpcError);
        expect((r as RpcError).code).toBe(Code.Unavailable);
      }
      expect(t.pendingCalls).toBe(0);
    } finally {
      await raw.close();
    }
  });

  it("fails pending calls promptly when the server goes away", async () => {
    await start();
    const { t, c } = await client();
    const calls = Array.from({ length: 100 }, () => c.echo({ message: "sleep:60000" }).catch((e: unknown) => e));
    await until(() => t.pendingCalls === 100, "calls to start");
    await server?.close({ graceMs: 0 });
    server = undefined;
    for (const r of await Promise.all(calls)) expect((r as RpcError).code).toBe(Code.Unavailable);
  });

  for (const [name, def] of [
    ["an error case", echoDef],
    ["no error case", withoutErrorCase(echoDef)],
  ] as const) {
    it(`drops a duplicate in-flight id (envelope with ${name}): the live call is answered once, unharmed, and the drop reported`, async () => {
      const errors: RpcError[] = [];
      const s = await startEchoServer({ onConnectionError: (e: RpcError) => errors.push(e) }, def);
      server = s.server;
      const raw = await rawClient(s.port, def);
      raw.write(echoRequest(7n, "sleep:200"));
      raw.write(echoRequest(7n, "again"));
      raw.write(echoRequest(8n, "next"));
      await raw.waitFor(2);
      await sleep(100);
      expect(raw.received.map((e) => [e.messageId, e.controlCode, (e.body as { case: string }).case])).toEqual([
        [8n, 0, "echo"],
        [7n, 0, "echo"],
      ]);
      expect((raw.received[1]?.body as { value: { message: string } } | undefined)?.value.message).toBe("sleep:200");
      expect(errors.map((e) => e.message)).toEqual([
        expect.stringMatching(/message id 7 is already in flight on this connection; the duplicate request was dropped/),
      ]);
      raw.socket.destroy();
    });
  }

  it("rejects requests past the per-connection concurrency limit with resource_exhausted", async () => {
    await start({ maxConcurrentCallsPerConnection: 10 });
    const { c } = await client();
    const results = await Promise.all(Array.from({ length: 15 }, () => c.echo({ message: "sleep:100" }).catch((e: unknown) => e)));
    const ok = results.filter((r) => !(r instanceof RpcError));
    const rejected = results.filter((r) => r instanceof RpcError) as RpcError[];
    expect(ok.length).toBe(10);
    expect(rejected.length).toBe(5);
    for (const r of rejected) {
      expect(r.code).toBe(Code.ResourceExhausted);
      expect(r.rawMessage).toMatch(/limit 10/);
    }
  });

  it("ignores Cancel for unknown ids and End from a client, and answers ids up to 2^64-1", async () => {
    await start();
    const raw = await rawClient(port, echoDef);
    const max = 2n ** 64n - 1n;
    raw.write(frameOf(echoDef, "request", requestCodec.create(99n, 1)));
    raw.write(frameOf(echoDef, "request", requestCodec.create(98n, 2)));
    raw.write(echoRequest(max, "big id"));
    await raw.waitFor(1);
    expect(raw.received[0]?.messageId).toBe(max);
    expect(raw.received[0]?.body).toMatchObject({ case: "echo", value: { message: "big id" } });
    raw.socket.destroy();
  });

  it("answers a request without a body case with unimplemented", async () => {
    await start();
    const raw = await rawClient(port, echoDef);
    raw.write(frameOf(echoDef, "request", requestCodec.create(5n, 0)));
    await raw.waitFor(1);
    expect(raw.received[0]?.body).toMatchObject({ case: "error", value: { code: Code.Unimplemented } });
    raw.socket.destroy();
  });

  it("keeps server memory bounded while a stream's reader stops for 2 s, then delivers every message in order", async () => {
    await start();
    const { c } = await client({ streamBufferMessages: 256 });
    const total = 60_000;
    let expected = 1;
    let yieldedDuringPause = 0;
    for await (const item of c.count({ count: total, payloadSize: 1024 })) {
      expect(item.n).toBe(expected++);
      if (item.n === 100) {
        await sleep(1000);
        const before = probe.yielded;
        await sleep(1000);
        yieldedDuringPause = probe.yielded - before;
        // The producer is parked: the client buffers at most 256 items, the
        // server at most its high-water mark, the kernel its socket buffers.
        expect(probe.yielded).toBeLessThan(total / 2);
      }
    }
    expect(expected).toBe(total + 1);
    expect(yieldedDuringPause).toBe(0);
  });

  it("stops reading requests from a client that does not read its responses", async () => {
    await start();
    const raw = await rawClient(port, echoDef);
    raw.socket.pause();
    const payload = "x".repeat(16 * 1024);
    let sent = 0;
    // Write requests until the server stops reading (our writes back up).
    while (raw.socket.writableLength < 8 * 1024 * 1024 && sent < 5000) {
      raw.write(echoRequest(BigInt(++sent), payload));
      if (sent % 100 === 0) await sleep(5);
    }
    await sleep(500);
    expect(raw.socket.writableLength).toBeGreaterThan(0);
    expect(sent).toBeLessThan(5000);
    raw.socket.destroy();
  });

  it("lets calls in flight finish on graceful close and fails those past the grace period", async () => {
    await start();
    const { c } = await client();
    const quick = c.echo({ message: "sleep:100" });
    const slow = c.echo({ message: "sleep:60000" }).catch((e: unknown) => e);
    await until(() => (server?.connections ?? 0) === 1, "the connection");
    await sleep(20);
    const closing = server?.close({ graceMs: 400 });
    expect((await quick).message).toBe("sleep:100");
    const err = (await slow) as RpcError;
    expect(err.code).toBe(Code.Unavailable);
    expect(err.rawMessage).toMatch(/grace period of 400 ms/);
    await closing;
    server = undefined;
    const refused = await connect({ port }).catch((e: unknown) => e);
    expect((refused as RpcError).code).toBe(Code.Unavailable);
  });
});

describe("TLS", () => {
  const dir = new URL("./fixtures/", import.meta.url);
  const key = readFileSync(new URL("localhost.key", dir));
  const cert = readFileSync(new URL("localhost.crt", dir));
  const otherCert = readFileSync(new URL("other.crt", dir));
  let server: Server | undefined;
  afterEach(async () => {
    await server?.close({ graceMs: 0 });
    server = undefined;
  });

  it("round-trips unary and streaming calls over TLS 1.3", async () => {
    const { createServer } = await import("../src/index.js");
    const { echoImpl } = await import("./support/echo-server.js");
    const s = createServer();
    server = s;
    s.register(echoDef, echoImpl({ aborted: 0, streamsFinished: 0, yielded: 0 }));
    const { port } = await s.listen({ tls: { key, cert, minVersion: "TLSv1.3" } });
    const t = await connect({ port, tls: { ca: cert, servername: "localhost", minVersion: "TLSv1.3" } });
    const c = createClient(echoDef, t);
    expect((await c.echo({ message: "secret" })).message).toBe("secret");
    const big = new Uint8Array(3 * 1024 * 1024).fill(5);
    expect((await c.echo({ payload: big })).payload.byteLength).toBe(big.byteLength);
    let n = 0;
    for await (const item of c.count({ count: 1000 })) n = item.n;
    expect(n).toBe(1000);
    t.close();
  });

  it("fails to connect with a clear error when the certificate is not trusted", async () => {
    const { createServer } = await import("../src/index.js");
    const { echoImpl } = await import("./support/echo-server.js");
    const s = createServer();
    server = s;
    s.register(echoDef, echoImpl({ aborted: 0, streamsFinished: 0, yielded: 0 }));
    const { port } = await s.listen({ tls: { key, cert } });
    const err = await connect({ port, tls: { ca: otherCert, servername: "localhost" } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe(Code.Unavailable);
    expect((err as RpcError).message).toMatch(/cannot connect: .*(certificate|self.signed)/i);
  });
});
