import { afterEach, describe, expect, it } from "vitest";
import { connect, createClient, type ConnectionTransport, type Server } from "../src/index.js";
import { startEchoServer } from "./support/echo-server.js";
import { echoDef } from "./support/services.js";

// setTimeout fires after 1 ms for 2^31 ms or more, and for Infinity: these
// durations must mean what they say.
describe("timeouts of 2^31 ms and more, and Infinity", () => {
  let server: Server | undefined;
  let transport: ConnectionTransport | undefined;
  afterEach(async () => {
    transport?.close();
    await server?.close({ graceMs: 0 });
  });

  for (const timeoutMs of [2 ** 31, 2 ** 40, Number.POSITIVE_INFINITY]) {
    it(`timeoutMs ${timeoutMs} and connectTimeoutMs ${timeoutMs} let a call run`, async () => {
      const s = await startEchoServer();
      server = s.server;
      transport = await connect({ port: s.port, connectTimeoutMs: timeoutMs });
      const client = createClient(echoDef, transport);
      expect((await client.echo({ message: "sleep:50" }, { timeoutMs })).message).toBe("sleep:50");
      const got: number[] = [];
      for await (const item of client.count({ count: 3, delayMs: 20 }, { timeoutMs })) got.push(item.n);
      expect(got).toEqual([1, 2, 3]);
    });
  }

  for (const graceMs of [2 ** 31, Number.POSITIVE_INFINITY]) {
    it(`close({ graceMs: ${graceMs} }) lets calls in flight finish`, async () => {
      const s = await startEchoServer();
      transport = await connect({ port: s.port });
      const client = createClient(echoDef, transport);
      const call = client.echo({ message: "sleep:200" });
      await new Promise((r) => setTimeout(r, 50));
      const closed = s.server.close({ graceMs });
      expect((await call).message).toBe("sleep:200");
      await closed;
    });
  }
});
