import { readFileSync } from "node:fs";
import { once } from "node:events";
import { connect as tlsConnect } from "node:tls";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import {
  Code,
  connect,
  createClient,
  createServer,
  RpcError,
  type Server,
  type ServerOptions,
  type ConnectionTransport,
} from "../src/index.js";
import { echoImpl } from "./support/echo-server.js";
import { rawClient } from "./support/raw.js";
import { echoDef } from "./support/services.js";

describe("server timeouts and connection limits", () => {
  let server: Server | undefined;
  const transports: ConnectionTransport[] = [];
  const errors: RpcError[] = [];
  afterEach(async () => {
    for (const t of transports.splice(0)) t.close();
    errors.length = 0;
    await server?.close({ graceMs: 0 });
    server = undefined;
  });

  async function start(options: ServerOptions, tls?: Parameters<Server["listen"]>[0]) {
    const s = createServer({ ...options, onConnectionError: (e) => errors.push(e) });
    s.register(echoDef, echoImpl({ aborted: 0, streamsFinished: 0, yielded: 0 }));
    server = s;
    return (await s.listen(tls)).port;
  }

  it("closes a connection whose frame never completes (frameTimeoutMs)", async () => {
    const port = await start({ frameTimeoutMs: 200 });
    const slow = await rawClient(port, echoDef);
    slow.write(new Uint8Array([0x20, 0x08])); // declares 32 bytes, sends 1
    await slow.closed;
    expect(errors.map((e) => e.message).join()).toMatch(/frame stayed incomplete for more than 200 ms/);
  });

  it("closes a connection that sends nothing (firstFrameTimeoutMs), not one that works", async () => {
    const port = await start({ firstFrameTimeoutMs: 200 });
    const t = await connect({ port });
    transports.push(t);
    const c = createClient(echoDef, t);
    expect((await c.echo({ message: "hi" })).message).toBe("hi");
    const silent = await rawClient(port, echoDef);
    await silent.closed;
    expect(errors[0]?.message).toMatch(/no frame within 200 ms of connecting/);
    await sleep(300);
    expect((await c.echo({ message: "still" })).message).toBe("still");
  });

  it("closes idle connections but not ones with calls running (idleTimeoutMs)", async () => {
    const port = await start({ idleTimeoutMs: 200 });
    const t = await connect({ port });
    transports.push(t);
    const c = createClient(echoDef, t);
    expect((await c.echo({ message: "sleep:500" })).message).toBe("sleep:500");
    const reason = await t.closed;
    expect(reason.code).toBe(Code.Unavailable);
    expect(errors[0]?.message).toMatch(/idle for more than 200 ms/);
  });

  it("refuses connections past maxConnections without disturbing the others", async () => {
    const port = await start({ maxConnections: 5 });
    const clients = [];
    for (let i = 0; i < 5; i++) {
      const t = await connect({ port });
      transports.push(t);
      clients.push(createClient(echoDef, t));
      expect((await clients[i]!.echo({ message: `${i}` })).message).toBe(`${i}`);
    }
    const extra = await connect({ port });
    transports.push(extra);
    const refused = await createClient(echoDef, extra)
      .echo({})
      .catch((e: unknown) => e);
    expect((refused as RpcError).code).toBe(Code.Unavailable);
    expect(errors[0]?.message).toMatch(/5 connections open \(maxConnections\)/);
    const results = await Promise.all(clients.map((c, i) => c.echo({ message: `again ${i}` })));
    expect(results.map((r) => r.message)).toEqual([0, 1, 2, 3, 4].map((i) => `again ${i}`));
    expect(server?.connections).toBe(5);
  });

  it("requires client certificates when configured (mTLS)", async () => {
    const dir = new URL("./fixtures/", import.meta.url);
    const key = readFileSync(new URL("localhost.key", dir));
    const cert = readFileSync(new URL("localhost.crt", dir));
    const port = await start({}, { tls: { key, cert, ca: cert, requestCert: true, rejectUnauthorized: true } });
    // With a certificate the server trusts: served.
    const t = await connect({ port, tls: { ca: cert, key, cert, servername: "localhost" } });
    transports.push(t);
    expect((await createClient(echoDef, t).echo({ message: "mutual" })).message).toBe("mutual");
    // Without one: the server ends the handshake (TLS 1.3 reports it after the client's side completes).
    const outcome = await (async () => {
      try {
        const bare = await connect({ port, tls: { ca: cert, servername: "localhost" } });
        transports.push(bare);
        await createClient(echoDef, bare).echo({ message: "anonymous" });
        return "served";
      } catch (e) {
        return e;
      }
    })();
    expect(outcome).toBeInstanceOf(RpcError);
    expect((outcome as RpcError).code).toBe(Code.Unavailable);
    // And a plain TLS socket sees the alert.
    const sock = tlsConnect({ host: "127.0.0.1", port, ca: cert, servername: "localhost" });
    const [err] = (await Promise.race([once(sock, "error"), once(sock, "close").then(() => [new Error("closed")])])) as [Error];
    expect(err.message).toMatch(/certificate|closed|alert/i);
  });
});
