import { Socket } from "node:net";
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
} from "../src/index.js";
import { createEnvelopeCodec } from "../src/protocol.js";
import { echoImpl, startEchoServer, type EchoProbe } from "./support/echo-server.js";
import { frameOf, rawClient } from "./support/raw.js";
import { sleep, startProbedServer, until } from "./support/reliability.js";
import { echoDef } from "./support/services.js";

const requestCodec = createEnvelopeCodec(echoDef.requestEnvelope, echoDef.binding.request);
function request(id: bigint, body: { case: "echo"; message: string } | { case: "count"; count: number; delayMs?: number }): Uint8Array {
  const env = requestCodec.create(id, 0);
  env.body =
    body.case === "echo"
      ? { case: "echo", value: { $typeName: "echo.v1.EchoRequest", message: body.message, payload: new Uint8Array(0) } }
      : { case: "count", value: { $typeName: "echo.v1.CountRequest", count: body.count, delayMs: body.delayMs ?? 0, payloadSize: 0 } };
  return frameOf(echoDef, "request", env);
}

/** Records writes to sockets that had already ended (write-after-end), in this process. */
function watchWritesAfterEnd(): { readonly count: number; dispose(): void } {
  const write = Socket.prototype.write;
  let count = 0;
  Socket.prototype.write = function (this: Socket, ...args: unknown[]) {
    if (this.writableEnded) count++;
    return (write as (...a: unknown[]) => boolean).apply(this, args);
  } as typeof write;
  return {
    get count() {
      return count;
    },
    dispose() {
      Socket.prototype.write = write;
    },
  };
}

describe("server lifecycle", () => {
  let server: Server | undefined;
  const transports: ConnectionTransport[] = [];
  afterEach(async () => {
    for (const t of transports.splice(0)) t.close();
    await server?.close({ graceMs: 0 });
    server = undefined;
  });

  it("answers a client that half-closes after its requests, then closes", async () => {
    const s = await startEchoServer();
    server = s.server;
    const raw = await rawClient(s.port, echoDef);
    let serverEnded = false;
    raw.socket.on("end", () => (serverEnded = true));
    raw.write(request(1n, { case: "echo", message: "sleep:100" }));
    raw.write(request(2n, { case: "count", count: 3, delayMs: 10 }));
    raw.write(request(3n, { case: "echo", message: "quick" }));
    raw.socket.end();
    await raw.closed;
    expect(serverEnded).toBe(true);
    // (A Cancel for an id not in flight may come too: the server checking that a half-closed client is still there.)
    const answers = raw.received
      .filter((e) => (e.messageId as bigint) <= 3n)
      .map((e) => `${e.messageId}:${e.controlCode}:${(e.body as { case?: string }).case ?? "-"}`);
    expect(answers.sort()).toEqual(["1:0:echo", "2:0:count", "2:0:count", "2:0:count", "2:2:-", "3:0:echo"]);
    await until(() => s.server.connections === 0, "the server to drop the connection");
  });

  it("stops the handlers of a client that went away entirely (not a half-close) while they run", async () => {
    const s = await startProbedServer();
    server = s.server;
    const raw = await rawClient(s.port, echoDef);
    raw.write(request(1n, { case: "echo", message: "sleep:30000" }));
    await until(() => s.probe.total.started === 1, "the handler to start");
    // The client goes away: its FIN looks like a half-close until a write to it fails.
    raw.socket.destroy();
    await until(() => s.probe.running() === 0, "the handler to be stopped", 5000);
    await until(() => s.server.connections === 0, "the server to drop the connection");
  });

  it("once shutdown begins, runs no new request and writes nothing after ending the connection", async () => {
    const watch = watchWritesAfterEnd();
    try {
      const s = await startProbedServer();
      server = s.server;
      const raw = await rawClient(s.port, echoDef);
      raw.write(request(1n, { case: "count", count: 1_000_000, delayMs: 1 }));
      raw.write(request(2n, { case: "echo", message: "sleep:10000" }));
      await until(() => s.probe.total.started === 2, "both handlers to start");
      // Keep sending requests while the server shuts down.
      let id = 100n;
      let sending = true;
      const sender = (async () => {
        while (sending && !raw.socket.destroyed && !raw.socket.writableEnded) {
          raw.write(request(id++, { case: "echo", message: "late" }));
          await sleep(1);
        }
      })();
      await sleep(20);
      const startedAtClose = s.probe.total.started;
      const idAtClose = id;
      const closing = s.server.close({ graceMs: 100 });
      await closing;
      sending = false;
      await sender;
      await raw.closed;
      // Requests that arrived after close() began were refused, not run.
      expect(s.probe.total.started).toBe(startedAtClose);
      expect(watch.count).toBe(0);
      // Every frame the client got decodes (none cut short), and the two running calls ended with unavailable.
      const terminal = (n: bigint) =>
        raw.received
          .filter((e) => e.messageId === n && (e.body as { case?: string }).case === "error")
          .map((e) => (e.body as { value: { code: number } }).value.code);
      expect(terminal(1n)).toEqual([Code.Unavailable]);
      expect(terminal(2n)).toEqual([Code.Unavailable]);
      // Requests sent after close() began were answered unavailable (or not at all, past the connection's end).
      const late = raw.received.filter((x) => (x.messageId as bigint) >= idAtClose);
      for (const e of late) expect(e.body).toMatchObject({ case: "error", value: { code: Code.Unavailable } });
    } finally {
      watch.dispose();
    }
  });

  for (const over of ["tcp", "memory"] as const) {
    it(`tells the caller why when its request exceeds the server's smaller frame limit (${over})`, async () => {
      const probe: EchoProbe = { aborted: 0, streamsFinished: 0, yielded: 0 };
      const s = createServer({ maxFrameBytes: 1024 });
      s.register(echoDef, echoImpl(probe));
      server = s;
      let t: ConnectionTransport;
      if (over === "tcp") {
        const { port } = await s.listen();
        t = await connect({ port });
      } else {
        t = createMemoryTransport(s);
      }
      transports.push(t);
      const client = createClient(echoDef, t);
      const running = client.echo({ message: "sleep:5000" }).catch((e: unknown) => e);
      await sleep(20);
      const err = await client.echo({ message: "big", payload: new Uint8Array(4096) }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RpcError);
      expect((err as RpcError).code).toBe(Code.ResourceExhausted);
      expect((err as RpcError).rawMessage).toMatch(
        /request of 41\d\d bytes exceeds the server's frame limit of 1024 bytes \(maxFrameBytes\)/,
      );
      // The connection closes (the stream cannot be trusted past a refused frame); other calls fail with unavailable.
      expect(((await running) as RpcError).code).toBe(Code.Unavailable);
    });
  }
});
