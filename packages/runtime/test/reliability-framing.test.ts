/**
 * Hostile framing: huge declared frames, frames that never
 * complete, silent connections, connection floods and call floods. Each
 * attack concerns its own connection: a healthy client keeps being served.
 */
import { connect as netConnect, type Socket } from "node:net";
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { Code, connect, createClient, type RpcError, type Server, type ConnectionTransport } from "../src/index.js";
import { createEnvelopeCodec } from "../src/protocol.js";
import { frameOf, rawClient, rawServer, type RawPeer } from "./support/raw.js";
import {
  memory,
  mib,
  openFileLimit,
  openFiles,
  retainedMemory,
  sleep,
  startProbedServer,
  until,
  whenClosed,
} from "./support/reliability.js";
import { echoDef } from "./support/services.js";

const requestCodec = createEnvelopeCodec(echoDef.requestEnvelope, echoDef.binding.request);
const responseCodec = createEnvelopeCodec(echoDef.responseEnvelope, echoDef.binding.response);
function echoFrame(id: bigint, message: string): Uint8Array {
  const env = requestCodec.create(id, 0);
  env.body = { case: "echo", value: { $typeName: "echo.v1.EchoRequest", message, payload: new Uint8Array(0) } };
  return frameOf(echoDef, "request", env);
}

/** The varint prefix of a frame body of 2^31 bytes (2 GiB). */
const PREFIX_2GIB = new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x08]);

async function openRaw(port: number): Promise<RawPeer> {
  const raw = await rawClient(port, echoDef);
  raw.closed.catch(() => {}); // raw.ts's `closed` rejects on ECONNRESET/EPIPE
  return raw;
}

/** A client on its own connection that calls echo in a loop until stopped; it must never fail. */
async function healthyClient(
  port: number,
): Promise<{ ok(): number; failures: unknown[]; stop(): Promise<void>; transport: ConnectionTransport }> {
  const transport = await connect({ port });
  const client = createClient(echoDef, transport);
  const failures: unknown[] = [];
  let ok = 0;
  let stopped = false;
  const loop = (async () => {
    for (let i = 0; !stopped; i++) {
      try {
        const r = await client.echo({ message: `h${i}` }, { timeoutMs: 10_000 });
        if (r.message !== `h${i}`) throw new Error(`wrong answer ${r.message}`);
        ok++;
      } catch (e) {
        failures.push(e);
      }
      await sleep(5);
    }
  })();
  return {
    ok: () => ok,
    failures,
    transport,
    async stop() {
      stopped = true;
      await loop;
      transport.close();
    },
  };
}

describe("hostile framing", () => {
  let server: Server | undefined;
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const f of cleanups.splice(0).reverse()) await f();
    await server?.close({ graceMs: 0 });
    server = undefined;
  });

  it("rejects a frame that declares 2 GiB at its prefix, without allocating it, naming the limit", async () => {
    const s = await startProbedServer();
    server = s.server;
    const healthy = await healthyClient(s.port);
    cleanups.push(() => healthy.stop());
    const base = retainedMemory();
    const before = memory();
    const raw = await openRaw(s.port);
    const peer = `127.0.0.1:${raw.socket.localPort}`;
    raw.write(PREFIX_2GIB);
    raw.write(new Uint8Array(64 * 1024).fill(1)); // the start of the "body"
    await whenClosed(raw.socket);
    const after = memory();
    const held = retainedMemory();
    console.log(
      `2 GiB frame: heap + buffers after GC ${mib(base)} → ${mib(held)}; RSS ${mib(before.rss)} → ${mib(after.rss)}; arrayBuffers ${mib(before.arrayBuffers)} → ${mib(after.arrayBuffers)}`,
    );
    const [reason] = s.connectionErrors.entries.filter((e) => e.peer === peer);
    expect(reason?.error.code).toBe(Code.ResourceExhausted);
    expect(reason?.error.message).toMatch(/frame of 2147483653 bytes exceeds the limit of 4194304 bytes \(maxFrameBytes\)/);
    expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(16);
    expect(after.rss - before.rss).toBeLessThan(128);
    expect(held - base).toBeLessThan(16);
    await sleep(50);
    expect(healthy.failures).toEqual([]);
    expect(healthy.ok()).toBeGreaterThan(0);
  });

  it("fails a client's calls when its server declares a 2 GiB frame, without allocating it", async () => {
    const raw = await rawServer(echoDef, (peer) => void peer.waitFor(2).then(() => peer.write(PREFIX_2GIB)));
    cleanups.push(() => raw.close());
    const before = memory();
    const t = await connect({ port: raw.port });
    cleanups.push(() => t.close());
    const c = createClient(echoDef, t);
    const results = await Promise.all([
      c.echo({ message: "a" }).catch((e: unknown) => e),
      c.echo({ message: "b" }).catch((e: unknown) => e),
    ]);
    for (const r of results) {
      expect((r as RpcError).code).toBe(Code.ResourceExhausted);
      expect((r as RpcError).message).toMatch(/exceeds the limit of 4194304 bytes \(maxFrameBytes\)/);
    }
    expect(memory().arrayBuffers - before.arrayBuffers).toBeLessThan(16);
  });

  // Guards against a peer reserving maxFrameBytes per connection with five bytes
  // (10,000 connections × 4 MiB = 40 GiB): the frame decoder holds the parts of
  // an incomplete body as they arrive, not a buffer of the declared size.
  it("holds memory in proportion to the bytes received, not to the frame sizes declared", async () => {
    const s = await startProbedServer();
    server = s.server;
    const base = retainedMemory();
    const raws: RawPeer[] = [];
    cleanups.push(() => {
      for (const r of raws) r.socket.destroy();
    });
    for (let i = 0; i < 200; i++) {
      const raw = await openRaw(s.port);
      // Declares a body of 4,194,288 bytes (just under 4 MiB with its prefix), sends 2 of them.
      raw.write(new Uint8Array([0xf0, 0xff, 0xff, 0x01, 0x01, 0x02]));
      raws.push(raw);
    }
    await until(() => s.server.connections === 200, "200 connections");
    await sleep(200);
    const held = retainedMemory();
    console.log(
      `200 connections, each declaring a 4 MiB frame and sending 2 bytes of it: heap + buffers after GC ${mib(base)} → ${mib(held)}`,
    );
    expect(held - base).toBeLessThan(64);
  });

  it("closes a connection whose frame trickles in and never completes, after frameTimeoutMs", async () => {
    const s = await startProbedServer({ frameTimeoutMs: 300 });
    server = s.server;
    const healthy = await healthyClient(s.port);
    cleanups.push(() => healthy.stop());
    const raw = await openRaw(s.port);
    const peer = `127.0.0.1:${raw.socket.localPort}`;
    const started = Date.now();
    raw.write(new Uint8Array([0x7f])); // declares 127 bytes…
    const drip = setInterval(() => raw.socket.writable && raw.socket.write(new Uint8Array([0x08])), 20); // …sends one every 20 ms
    cleanups.push(() => clearInterval(drip));
    await whenClosed(raw.socket);
    const after = Date.now() - started;
    clearInterval(drip);
    expect(after).toBeGreaterThanOrEqual(300);
    expect(after).toBeLessThan(5000);
    expect(s.connectionErrors.of(peer).join()).toMatch(/a frame stayed incomplete for more than 300 ms \(frameTimeoutMs\)/);
    expect(healthy.failures).toEqual([]);
  });

  it("closes a connection stopped in the middle of a length prefix, after frameTimeoutMs", async () => {
    const s = await startProbedServer({ frameTimeoutMs: 300, firstFrameTimeoutMs: 0 });
    server = s.server;
    const raw = await openRaw(s.port);
    const peer = `127.0.0.1:${raw.socket.localPort}`;
    raw.write(echoFrame(1n, "one whole frame first"));
    raw.write(new Uint8Array([0x80, 0x80])); // then a prefix that never ends
    await raw.waitFor(1);
    await whenClosed(raw.socket);
    expect(s.connectionErrors.of(peer).join()).toMatch(/frame stayed incomplete for more than 300 ms/);
  });

  it("closes a connection that sends nothing after firstFrameTimeoutMs, plain and TLS, and one that never starts its TLS handshake", async () => {
    const dir = new URL("./fixtures/", import.meta.url);
    const key = readFileSync(new URL("localhost.key", dir));
    const cert = readFileSync(new URL("localhost.crt", dir));
    const plain = await startProbedServer({ firstFrameTimeoutMs: 300 });
    server = plain.server;
    const tls = await startProbedServer({ firstFrameTimeoutMs: 300, tlsHandshakeTimeoutMs: 300 }, { tls: { key, cert } });
    cleanups.push(() => tls.server.close({ graceMs: 0 }));

    // Plain TCP, silent.
    const silent = await openRaw(plain.port);
    const silentPeer = `127.0.0.1:${silent.socket.localPort}`;
    let t0 = Date.now();
    await whenClosed(silent.socket);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
    expect(plain.connectionErrors.of(silentPeer).join()).toMatch(/no frame within 300 ms of connecting \(firstFrameTimeoutMs\)/);

    // TLS, handshake done, silent: a client transport that never calls.
    const idle = await connect({ port: tls.port, tls: { ca: cert, servername: "localhost" } });
    cleanups.push(() => idle.close());
    const reason = await idle.closed;
    expect(reason.code).toBe(Code.Unavailable);
    expect(tls.connectionErrors.entries.map((e) => e.error.message).join()).toMatch(/no frame within 300 ms of connecting/);

    // TCP connected to the TLS port, no ClientHello: the handshake times out.
    const bare = netConnect({ host: "127.0.0.1", port: tls.port });
    bare.on("error", () => {});
    t0 = Date.now();
    await whenClosed(bare);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(tls.connectionErrors.entries.map((e) => e.error.message).join("\n")).toMatch(/TLS handshake failed: .*timeout/i);
  });

  it("refuses connections past maxConnections in a flood of 10,000, while a healthy client is served throughout", async () => {
    const limit = openFileLimit() ?? Number.POSITIVE_INFINITY;
    const inUse = openFiles() ?? 100;
    let total = 10_000;
    let maxConnections = 2_000;
    // This process holds both ends of every accepted connection.
    const needed = inUse + total + maxConnections + 500;
    if (limit < needed) {
      total = Math.max(100, Math.floor((limit - inUse - 500) / 1.2));
      maxConnections = Math.max(10, Math.floor(total / 5));
      console.warn(
        `open-file limit ${limit} is below the ${needed} this test needs: scaled down to ${total} connections against maxConnections ${maxConnections} (raise it with ulimit -n)`,
      );
    }
    const s = await startProbedServer({ maxConnections, firstFrameTimeoutMs: 0 }, { backlog: 4096 });
    server = s.server;
    const healthy = await healthyClient(s.port);
    cleanups.push(() => healthy.stop());
    const okBefore = healthy.ok();
    const sockets: Socket[] = [];
    cleanups.push(() => {
      for (const sock of sockets) sock.destroy();
    });
    let connected = 0;
    let refused = 0;
    let failedToConnect = 0;
    const batch = 500;
    for (let i = 0; i < total; i += batch) {
      const opened: Promise<void>[] = [];
      for (let j = i; j < Math.min(total, i + batch); j++) {
        const sock = netConnect({ host: "127.0.0.1", port: s.port });
        sockets.push(sock);
        let wasConnected = false;
        sock.on("error", () => {});
        opened.push(
          new Promise<void>((resolve) => {
            sock.once("connect", () => {
              wasConnected = true;
              connected++;
              resolve();
            });
            sock.once("close", () => {
              if (wasConnected) refused++;
              else failedToConnect++;
              resolve();
            });
          }),
        );
      }
      await Promise.all(opened);
    }
    const expectedRefused = total - (maxConnections - 1); // the healthy client holds one slot
    await until(
      () => refused + failedToConnect >= expectedRefused,
      () => `${expectedRefused} refusals (${refused} refused, ${failedToConnect} failed to connect)`,
      20_000,
    );
    await sleep(100);
    console.log(
      `connection flood: ${total} opened against maxConnections ${maxConnections}: ${connected} connected, ${refused} refused after accept, ` +
        `${failedToConnect} failed to connect; server holds ${s.server.connections}; healthy client ${healthy.ok() - okBefore} calls ok meanwhile`,
    );
    expect(failedToConnect).toBe(0);
    expect(refused).toBe(expectedRefused);
    expect(s.server.connections).toBe(maxConnections);
    expect(s.connectionErrors.entries[0]?.error.message).toMatch(new RegExp(`${maxConnections} connections open \\(maxConnections\\)`));
    // The accepted ones are really served: one of them completes a call.
    const open = sockets.find((sock) => !sock.destroyed);
    expect(open).toBeDefined();
    const reply = new Promise<Buffer>((resolve) => open?.once("data", resolve));
    open?.write(echoFrame(1n, "accepted"));
    const body = (await reply).subarray(1);
    expect(responseCodec.decode(body).body).toMatchObject({ case: "echo", value: { message: "accepted" } });
    expect(healthy.failures).toEqual([]);
    expect(healthy.ok()).toBeGreaterThan(okBefore);
    for (const sock of sockets) sock.destroy();
    await until(() => s.server.connections === 1, "the flood's connections to close");
    // Once they are gone, new connections are served again.
    const again = await connect({ port: s.port });
    cleanups.push(() => again.close());
    expect((await createClient(echoDef, again).echo({ message: "room again" })).message).toBe("room again");
  });

  it("rejects a flood of requests past maxConcurrentCallsPerConnection at once, with resource_exhausted, in bounded memory", async () => {
    const s = await startProbedServer({ maxConcurrentCallsPerConnection: 100 });
    server = s.server;
    const healthy = await healthyClient(s.port);
    cleanups.push(() => healthy.stop());
    const raw = await openRaw(s.port);
    cleanups.push(() => raw.socket.destroy());
    const peer = `127.0.0.1:${raw.socket.localPort}`;
    const total = 50_000;
    const base = retainedMemory();
    const frames: Uint8Array[] = [];
    for (let i = 1; i <= total; i++) frames.push(echoFrame(BigInt(i), "sleep:8000"));
    raw.write(Buffer.concat(frames));
    frames.length = 0;
    await raw.waitFor(total - 100);
    const heldDuringFlood = retainedMemory();
    // Every answer so far is a rejection: none waited in a queue for a running call to finish.
    const early = raw.received.slice(0, total - 100);
    const notRejected = early.filter((env) => {
      const b = env.body as { case: string; value: { code?: number } };
      return !(b.case === "error" && b.value.code === Code.ResourceExhausted);
    });
    expect(notRejected.length).toBe(0);
    expect(s.probe.of(peer).started).toBe(100);
    expect(s.probe.running(peer)).toBe(100);
    // The 100 admitted calls complete normally.
    await raw.waitFor(total);
    const echoed = raw.received.slice(total - 100).filter((env) => (env.body as { case: string }).case === "echo");
    expect(echoed.length).toBe(100);
    console.log(
      `call flood: ${total} requests on one connection, limit 100: ${total - 100} rejected with resource_exhausted before any admitted call finished; ` +
        `heap + buffers after GC ${mib(base)} → ${mib(heldDuringFlood)} during the flood; healthy client ${healthy.ok()} calls ok`,
    );
    expect(heldDuringFlood - base).toBeLessThan(64);
    expect(healthy.failures).toEqual([]);
  });
});
