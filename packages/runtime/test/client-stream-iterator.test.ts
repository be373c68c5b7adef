import { afterEach, describe, expect, it } from "vitest";
import { createClient, createMemoryTransport, createServer, type ConnectionTransport, type Server } from "../src/index.js";
import { echoImpl, type EchoProbe } from "./support/echo-server.js";
import { until } from "./support/reliability.js";
import { echoDef } from "./support/services.js";

describe("a server stream's iterator", () => {
  let server: Server | undefined;
  let transport: ConnectionTransport | undefined;
  let probe: EchoProbe;
  afterEach(async () => {
    transport?.close();
    await server?.close({ graceMs: 0 });
  });

  function start() {
    probe = { aborted: 0, streamsFinished: 0, yielded: 0 };
    server = createServer();
    server.register(echoDef, echoImpl(probe));
    transport = createMemoryTransport(server);
    return createClient(echoDef, transport);
  }

  it("answers concurrent next() calls in order, each with its own message", async () => {
    const client = start();
    const it = client.count({ count: 3, delayMs: 20 })[Symbol.asyncIterator]();
    const results = await Promise.all([it.next(), it.next(), it.next(), it.next(), it.next()]);
    expect(results.map((r) => (r.done === true ? "done" : r.value.n))).toEqual([1, 2, 3, "done", "done"]);
  });

  it("settles a pending next() with done when return() is called, and cancels the call", async () => {
    const client = start();
    const it = client.count({ count: 1000, delayMs: 50 })[Symbol.asyncIterator]();
    expect((await it.next()).value?.n).toBe(1);
    const pending = [it.next(), it.next()];
    const returned = await it.return?.();
    expect(returned).toEqual({ value: undefined, done: true });
    expect(await Promise.all(pending)).toEqual([
      { value: undefined, done: true },
      { value: undefined, done: true },
    ]);
    await until(() => probe.aborted === 1, "the server's handler to see the cancel");
    expect(transport?.pendingCalls).toBe(0);
  });

  it("rejects the first pending next() with the error and ends the others", async () => {
    const client = start();
    transport?.close();
    const it = client.count({ count: 3 })[Symbol.asyncIterator]();
    const [a, b] = await Promise.allSettled([it.next(), it.next()]);
    expect(a.status).toBe("rejected");
    expect(b).toEqual({ status: "fulfilled", value: { value: undefined, done: true } });
  });
});
