/**
 * maxConcurrentCalls bounds the calls running on a whole server, over every
 * connection (and the in-memory transport): a request past it is answered
 * resource_exhausted naming the option and not run; calls that end, fail or
 * lose their connection give their place back.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  Code,
  connect,
  createClient,
  createMemoryTransport,
  createServer,
  type ConnectionTransport,
  type RpcError,
  type Server,
} from "../src/index.js";
import { until } from "./support/reliability.js";
import { startEchoServer, type EchoProbe } from "./support/echo-server.js";
import { echoDef } from "./support/services.js";

describe("maxConcurrentCalls (server-wide)", () => {
  let server: Server | undefined;
  let probe: EchoProbe;
  const transports: ConnectionTransport[] = [];
  afterEach(async () => {
    for (const t of transports.splice(0)) t.close();
    await server?.close({ graceMs: 0 });
    server = undefined;
  });

  it("refuses a call past the server's limit on any connection, and takes calls again as running ones end or their connection closes", async () => {
    const s = await startEchoServer({ maxConcurrentCalls: 3 });
    server = s.server;
    probe = s.probe;
    const a = await connect({ port: s.port });
    const b = await connect({ port: s.port });
    const memory = createMemoryTransport(server);
    transports.push(a, b, memory);
    const [ca, cb, cm] = [createClient(echoDef, a), createClient(echoDef, b), createClient(echoDef, memory)];
    const held = [ca.echo({ message: "sleep:60000" }), ca.echo({ message: "sleep:60000" }), cm.echo({ message: "sleep:300" })];
    for (const h of held) h.catch(() => {});
    await until(() => a.pendingCalls === 2 && memory.pendingCalls === 1, "three calls running");
    const refused = (await cb.echo({ message: "x" }).catch((e: unknown) => e)) as RpcError;
    expect(refused.code).toBe(Code.ResourceExhausted);
    expect(refused.message).toContain("too many concurrent calls on this server (limit 3, maxConcurrentCalls)");
    // The memory call ends: its place is free.
    await held[2];
    expect((await cb.echo({ message: "one" })).message).toBe("one");
    // A connection that closes with calls running gives their places back.
    a.close();
    await until(() => probe.aborted === 2, "the closed connection's handlers to stop");
    const three = await Promise.all([cb.echo({ message: "1" }), cb.echo({ message: "2" }), cm.echo({ message: "3" })]);
    expect(three.map((r) => r.message)).toEqual(["1", "2", "3"]);
  });

  it("is checked where it enters", () => {
    for (const value of [0, -1, 1.5, Number.NaN, "100"]) {
      expect(() => createServer({ maxConcurrentCalls: value as number })).toThrow(/invalid option maxConcurrentCalls/);
    }
  });
});
