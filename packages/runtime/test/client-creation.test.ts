import { afterEach, describe, expect, it } from "vitest";
import { connect, createClient, type ConnectionTransport, type Server } from "../src/index.js";
import { codecsOf } from "../src/protocol.js";
import { startEchoServer } from "./support/echo-server.js";
import { retainedMemory } from "./support/reliability.js";
import { echoDef } from "./support/services.js";

describe("creating clients", () => {
  let server: Server | undefined;
  let transport: ConnectionTransport | undefined;
  afterEach(async () => {
    transport?.close();
    await server?.close({ graceMs: 0 });
  });

  it("builds nothing per client: a client per call, thousands of times, shares one set of codecs and retains nothing", async () => {
    const s = await startEchoServer();
    server = s.server;
    transport = await connect({ port: s.port });
    const codecs = codecsOf(echoDef);
    const round = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const r = await createClient(echoDef, transport as ConnectionTransport).echo({ message: `${i}` });
        expect(r.message).toBe(`${i}`);
      }
    };
    await round(1000);
    const before = retainedMemory();
    await round(4000);
    const after = retainedMemory();
    expect(codecsOf(echoDef)).toBe(codecs);
    expect(transport.pendingCalls).toBe(0);
    // 4,000 more clients leave nothing behind (today's per-attach codecs grew the heap by megabytes).
    expect(after - before).toBeLessThan(1);
  });
});
