/**
 * Faults: peers that die, keepalive, and TLS failures. The killed
 * peer runs in a child process (support/child-*.mjs, which use the built
 * runtime in packages/runtime/dist and the echo example's generated binding:
 * `npm run build` first, as `npm test` does).
 */
import { readFileSync } from "node:fs";
import { once } from "node:events";
import { connect as netConnect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { Code, connect, createClient, RpcError, type Server, type ConnectionTransport } from "../src/index.js";
import { sleep, startChild, startProbedServer, tcpTimer, until, type Child } from "./support/reliability.js";
import { echoDef } from "./support/services.js";

const onLinux = process.platform === "linux";

describe("faults", () => {
  let server: Server | undefined;
  const children: Child[] = [];
  const transports: ConnectionTransport[] = [];
  afterEach(async () => {
    for (const t of transports.splice(0)) t.close();
    for (const c of children.splice(0)) {
      if (c.process.exitCode === null && c.process.signalCode === null) c.process.kill("SIGKILL");
      await c.exited;
    }
    await server?.close({ graceMs: 0 });
    server = undefined;
  });

  it("fails every pending call with unavailable within 1 s when the server process is killed", async () => {
    const child = startChild("child-echo-server.mjs", ["0"]);
    children.push(child);
    const port = Number((await child.waitForLine(/^LISTENING /)).split(":").pop());
    const settled: { code: Code | undefined; at: number }[] = [];
    const record = (p: Promise<unknown>) =>
      p.then(
        () => settled.push({ code: undefined, at: performance.now() }),
        (e: unknown) => settled.push({ code: e instanceof RpcError ? e.code : undefined, at: performance.now() }),
      );
    const streamsStarted: number[] = [];
    const pending: Promise<unknown>[] = [];
    for (let conn = 0; conn < 4; conn++) {
      const t = await connect({ port });
      transports.push(t);
      const c = createClient(echoDef, t);
      for (let i = 0; i < 50; i++) pending.push(record(c.echo({ message: "sleep:60000" })));
      for (let i = 0; i < 3; i++) {
        pending.push(
          record(
            (async () => {
              for await (const item of c.count({ count: 1_000_000, delayMs: 5 })) streamsStarted[conn * 3 + i] = item.n;
            })(),
          ),
        );
      }
    }
    // A stream nobody reads, on a fifth connection (an unread stream pauses its
    // whole connection): that connection has responses queued when the server dies.
    const stalledTransport = await connect({ port, streamBufferMessages: 64 });
    transports.push(stalledTransport);
    const stalledClient = createClient(echoDef, stalledTransport);
    const stalled = stalledClient.count({ count: 1_000_000, payloadSize: 512 })[Symbol.asyncIterator]();
    pending.push(record(stalled.next()));

    await until(() => streamsStarted.filter((n) => n > 0).length === 12, "every stream to deliver an item");
    expect(transports.reduce((n, t) => n + t.pendingCalls, 0)).toBe(4 * (50 + 3) + 1);
    const killedAt = performance.now();
    child.process.kill("SIGKILL");
    await Promise.all(pending);
    const slowest = Math.max(...settled.map((s) => s.at - killedAt));
    console.log(`server killed with ${settled.length} calls pending: all settled within ${slowest.toFixed(1)} ms`);
    expect(settled.length).toBe(4 * 53 + 1);
    // The unread stream's first item may have arrived; every other call fails with unavailable.
    const failures = settled.filter((s) => s.code !== undefined);
    expect(failures.every((s) => s.code === Code.Unavailable)).toBe(true);
    expect(failures.length).toBeGreaterThanOrEqual(4 * 53);
    // The unread stream hands over what it had buffered, then fails with unavailable (never a clean end).
    let end: unknown;
    let buffered = 0;
    while (end === undefined) {
      end = await stalled.next().then(
        (r) => {
          if (r.done === true) return "done";
          buffered++;
          return undefined;
        },
        (e: unknown) => e,
      );
    }
    // (It first hands over what was in flight: its buffer, then what the kernel held when it resumed reading.)
    expect((end as RpcError).code).toBe(Code.Unavailable);
    expect(buffered).toBeGreaterThan(0);
    expect(slowest).toBeLessThan(1000);
    for (const t of transports) expect(t.pendingCalls).toBe(0);
    // Later calls fail at once, and so does reconnecting.
    const late = await createClient(echoDef, transports[0]!)
      .echo({})
      .catch((e: unknown) => e);
    expect((late as RpcError).code).toBe(Code.Unavailable);
    const reconnect = await connect({ port }).catch((e: unknown) => e);
    expect((reconnect as RpcError).code).toBe(Code.Unavailable);
    expect((reconnect as RpcError).message).toMatch(/ECONNREFUSED/);
  });

  // A connection whose reading is paused because one stream's consumer stopped
  // never sees the server's FIN or RST by reading; the client probes it with a
  // Cancel for id 0 while paused (client/call-registry.ts), so a dead server is
  // noticed on the next write.
  it("fails the other calls of a connection paused by an unread stream within 1 s when the server process is killed", async () => {
    const child = startChild("child-echo-server.mjs", ["0"]);
    children.push(child);
    const port = Number((await child.waitForLine(/^LISTENING /)).split(":").pop());
    const t = await connect({ port, streamBufferMessages: 64 });
    transports.push(t);
    const c = createClient(echoDef, t);
    const unread = c.count({ count: 1_000_000, payloadSize: 512 })[Symbol.asyncIterator]();
    await unread.next();
    await sleep(100); // the stream's buffer fills: the connection stops reading
    const call = c.echo({ message: "sleep:60000" }).catch((e: unknown) => e);
    await sleep(50);
    child.process.kill("SIGKILL");
    const outcome = await Promise.race([call, sleep(1000).then(() => "still pending 1 s after the server died")]);
    expect((outcome as RpcError).code).toBe(Code.Unavailable);
  });

  it("aborts the handlers of a client process killed mid-stream and releases them", async () => {
    const s = await startProbedServer();
    server = s.server;
    const child = startChild("child-stream-client.mjs", [String(s.port)]);
    children.push(child);
    await child.waitForLine(/^STREAMING 20$/);
    // One stream and five sleeping unary calls run for the child.
    expect(s.probe.running()).toBe(6);
    expect(s.server.connections).toBe(1);
    const yieldedAtKill = s.probe.total.yielded;
    child.process.kill("SIGKILL");
    await until(
      () => s.probe.running() === 0,
      () => `the child's handlers to finish (${s.probe.running()} running)`,
      5000,
    );
    expect(s.probe.total.finished).toBe(6);
    expect(s.probe.total.aborted).toBe(6); // each saw its signal abort, and its finally ran
    await until(() => s.server.connections === 0, "the server to drop the connection", 5000);
    // The stream stopped producing.
    const yielded = s.probe.total.yielded;
    await sleep(100);
    expect(s.probe.total.yielded).toBe(yielded);
    expect(yielded - yieldedAtKill).toBeLessThan(500);
    // The server is unharmed.
    const t = await connect({ port: s.port });
    transports.push(t);
    expect((await createClient(echoDef, t).echo({ message: "next" })).message).toBe("next");
  });

  it("aborts the handlers of a client process killed while the server's writes to it are backed up", async () => {
    const s = await startProbedServer();
    server = s.server;
    const child = startChild("child-stream-client.mjs", [String(s.port), "stalled"]);
    children.push(child);
    await child.waitForLine(/^STALLED$/);
    await until(() => s.probe.running() === 6, "the child's handlers to run");
    // The stream's producer is parked: the child reads nothing.
    for (let before = -1; before !== s.probe.total.yielded; ) {
      before = s.probe.total.yielded;
      await sleep(200);
    }
    expect(s.probe.total.yielded).toBeLessThan(1_000_000);
    child.process.kill("SIGKILL");
    await until(
      () => s.probe.running() === 0,
      () => `the child's handlers to finish (${s.probe.running()} running)`,
      5000,
    );
    expect(s.probe.total.aborted).toBe(6);
    await until(() => s.server.connections === 0, "the server to drop the connection", 5000);
  });

  it("aborts a handler whose client vanishes without a FIN (connection reset)", async () => {
    const s = await startProbedServer();
    server = s.server;
    const sock = netConnect({ host: "127.0.0.1", port: s.port });
    sock.on("error", () => {});
    await once(sock, "connect");
    // A raw Count request: id 1, count 1,000,000, delay 2 ms.
    sock.write(new Uint8Array([0x0c, 0x08, 0x01, 0x22, 0x08, 0x08, 0xc0, 0x84, 0x3d, 0x10, 0x02, 0x18, 0x00]));
    await until(() => s.probe.total.yielded > 5, "the stream to start");
    sock.resetAndDestroy();
    await until(() => s.probe.running() === 0, "the handler to finish", 5000);
    expect(s.probe.total.aborted).toBe(1);
    await until(() => s.server.connections === 0, "the server to drop the connection", 5000);
  });
});

describe("keepalive", () => {
  // A half-open connection cannot be made on loopback without network
  // namespaces or a firewall (the kernel answers for a dead peer's socket),
  // so these tests check what detection rests on: SO_KEEPALIVE is set with
  // keepAliveMs as its idle time, on both sides, read back from /proc/net/tcp.
  let server: Server | undefined;
  const transports: ConnectionTransport[] = [];
  afterEach(async () => {
    for (const t of transports.splice(0)) t.close();
    await server?.close({ graceMs: 0 });
    server = undefined;
  });

  async function clientPort(s: Awaited<ReturnType<typeof startProbedServer>>, t: ConnectionTransport): Promise<number> {
    const before = new Set(s.probe.peers());
    await createClient(echoDef, t).echo({ message: "who am I" });
    const peer = s.probe.peers().find((p) => !before.has(p));
    return Number(peer?.split(":").pop());
  }

  it.runIf(onLinux)("arms the TCP keepalive timer on accepted sockets with the server's keepAliveMs", async () => {
    const s = await startProbedServer({ keepAliveMs: 30_000 });
    server = s.server;
    const t = await connect({ port: s.port });
    transports.push(t);
    const port = await clientPort(s, t);
    await sleep(50);
    const serverSide = tcpTimer(s.port, port);
    const clientSide = tcpTimer(port, s.port);
    expect(serverSide?.timer).toBe(2); // keepalive timer armed
    expect(serverSide?.seconds).toBeGreaterThan(25);
    expect(serverSide?.seconds).toBeLessThanOrEqual(30);
    expect(clientSide?.timer).toBe(0); // the client did not ask for keepalive
  });

  it.runIf(onLinux)("arms the TCP keepalive timer on a client's socket with its keepAliveMs, and not without it", async () => {
    const s = await startProbedServer();
    server = s.server;
    const withKa = await connect({ port: s.port, keepAliveMs: 45_000 });
    const without = await connect({ port: s.port });
    transports.push(withKa, without);
    const p1 = await clientPort(s, withKa);
    const p2 = await clientPort(s, without);
    await sleep(50);
    const armed = tcpTimer(p1, s.port);
    expect(armed?.timer).toBe(2);
    expect(armed?.seconds).toBeGreaterThan(40);
    expect(armed?.seconds).toBeLessThanOrEqual(45);
    expect(tcpTimer(p2, s.port)?.timer).toBe(0);
    expect(tcpTimer(s.port, p1)?.timer).toBe(0); // the server did not ask for keepalive
  });
});

describe("TLS failures", () => {
  const dir = new URL("./fixtures/", import.meta.url);
  const key = readFileSync(new URL("localhost.key", dir));
  const cert = readFileSync(new URL("localhost.crt", dir));
  const otherKey = readFileSync(new URL("other.key", dir));
  const otherCert = readFileSync(new URL("other.crt", dir));
  let server: Server | undefined;
  const transports: ConnectionTransport[] = [];
  afterEach(async () => {
    for (const t of transports.splice(0)) t.close();
    await server?.close({ graceMs: 0 });
    server = undefined;
  });

  it("fails to connect with a clear error when the certificate names another host", async () => {
    const s = await startProbedServer({}, { tls: { key: otherKey, cert: otherCert } });
    server = s.server;
    const err = await connect({ port: s.port, tls: { ca: otherCert, servername: "localhost" } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe(Code.Unavailable);
    expect((err as RpcError).message).toMatch(/cannot connect: ERR_TLS_CERT_ALTNAME_INVALID .*localhost/);
  });

  it("fails a plaintext client of a TLS server, and the server reports the failed handshake", async () => {
    const s = await startProbedServer({}, { tls: { key, cert } });
    server = s.server;
    const t = await connect({ port: s.port });
    transports.push(t);
    const err = await createClient(echoDef, t)
      .echo({ message: "in clear" })
      .catch((e: unknown) => e);
    expect((err as RpcError).code).toBe(Code.Unavailable);
    await until(() => s.connectionErrors.entries.length > 0, "the server to report the handshake");
    expect(s.connectionErrors.entries[0]?.error.message).toMatch(
      /TLS handshake failed: .*(wrong version number|unsupported protocol|packet length|http request)/i,
    );
  });

  it("fails a TLS client of a plaintext server with a clear error, and the server closes only that connection", async () => {
    const s = await startProbedServer();
    server = s.server;
    const good = await connect({ port: s.port });
    transports.push(good);
    const err = await connect({ port: s.port, tls: { ca: cert, servername: "localhost" }, connectTimeoutMs: 5000 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe(Code.Unavailable);
    expect((err as RpcError).message).toMatch(/cannot connect: .*(disconnected before secure TLS connection was established|ECONNRESET)/);
    expect(s.connectionErrors.entries[0]?.error.message).toMatch(/protocol violation/);
    expect((await createClient(echoDef, good).echo({ message: "unharmed" })).message).toBe("unharmed");
  });

  it("refuses an mTLS client whose certificate the server does not trust, and serves one it trusts", async () => {
    const s = await startProbedServer({}, { tls: { key, cert, ca: cert, requestCert: true, rejectUnauthorized: true } });
    server = s.server;
    const trusted = await connect({ port: s.port, tls: { ca: cert, key, cert, servername: "localhost" } });
    transports.push(trusted);
    expect((await createClient(echoDef, trusted).echo({ message: "mutual" })).message).toBe("mutual");
    const outcome = await (async () => {
      try {
        const t = await connect({ port: s.port, tls: { ca: cert, key: otherKey, cert: otherCert, servername: "localhost" } });
        transports.push(t);
        await createClient(echoDef, t).echo({ message: "stranger" });
        return "served";
      } catch (e) {
        return e;
      }
    })();
    expect(outcome).toBeInstanceOf(RpcError);
    expect((outcome as RpcError).code).toBe(Code.Unavailable);
    await until(() => s.connectionErrors.entries.length > 0, "the server to report the handshake");
    expect(s.connectionErrors.entries[0]?.error.message).toMatch(/TLS handshake failed/);
    expect((await createClient(echoDef, trusted).echo({ message: "still mutual" })).message).toBe("still mutual");
  });

  // node:tls destroys a socket whose client certificate it refuses and keeps
  // the reason in socket.authorizationError; the server's tlsClientError
  // handler names it.
  it("names the reason when it refuses an mTLS client certificate", async () => {
    const s = await startProbedServer({}, { tls: { key, cert, ca: cert, requestCert: true, rejectUnauthorized: true } });
    server = s.server;
    await connect({ port: s.port, tls: { ca: cert, key: otherKey, cert: otherCert, servername: "localhost" } })
      .then((t) => {
        transports.push(t);
        return createClient(echoDef, t).echo({});
      })
      .catch(() => {});
    await until(() => s.connectionErrors.entries.length > 0, "the server to report the handshake");
    expect(s.connectionErrors.entries[0]?.error.message).toMatch(/TLS handshake failed: .*(certificate|CERT)/);
  });
});
