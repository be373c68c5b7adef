import { describe, expect, it } from "vitest";
import { Code, connect, createClient, createMemoryTransport, createServer, RpcError } from "../src/index.js";
import { echoImpl } from "./support/echo-server.js";
import { echoDef } from "./support/services.js";

async function rejection(p: Promise<unknown> | (() => unknown)): Promise<RpcError> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(RpcError);
    return e as RpcError;
  }
  throw new Error("expected an error");
}

describe("options are validated where they enter", () => {
  for (const [name, options, pattern] of [
    ["maxFrameBytes NaN", { port: 1, maxFrameBytes: Number.NaN }, /invalid option maxFrameBytes: NaN/],
    ["maxFrameBytes -1", { port: 1, maxFrameBytes: -1 }, /invalid option maxFrameBytes: -1/],
    ["a port out of range", { port: 70_000 }, /invalid option port: 70000/],
    ["a port that is not a number", { port: "80" }, /invalid option port: "80"/],
    ["no port", {}, /invalid option port: undefined/],
    ["an empty host", { host: "", port: 80 }, /invalid option host: ""/],
    ["connectTimeoutMs NaN", { port: 80, connectTimeoutMs: Number.NaN }, /invalid option connectTimeoutMs: NaN/],
    ["streamBufferMessages 0", { port: 80, streamBufferMessages: 0 }, /invalid option streamBufferMessages: 0/],
    ["interceptors that are not functions", { port: 80, interceptors: [1] }, /invalid option interceptors/],
  ] as const) {
    it(`connect() rejects ${name} with invalid_argument naming the option`, async () => {
      const e = await rejection(connect(options as never));
      expect(e.code).toBe(Code.InvalidArgument);
      expect(e.rawMessage).toMatch(pattern);
    });
  }

  for (const [name, options, pattern] of [
    ["maxFrameBytes -1", { maxFrameBytes: -1 }, /invalid option maxFrameBytes: -1/],
    ["maxFrameBytes NaN", { maxFrameBytes: Number.NaN }, /invalid option maxFrameBytes: NaN/],
    ["maxConcurrentCallsPerConnection 0", { maxConcurrentCallsPerConnection: 0 }, /maxConcurrentCallsPerConnection: 0/],
    ["idleTimeoutMs -5", { idleTimeoutMs: -5 }, /idleTimeoutMs: -5/],
    ["onHandlerError that is not a function", { onHandlerError: "log" }, /onHandlerError: "log"/],
  ] as const) {
    it(`createServer() refuses ${name} with invalid_argument naming the option`, async () => {
      const e = await rejection(() => createServer(options as never));
      expect(e.code).toBe(Code.InvalidArgument);
      expect(e.rawMessage).toMatch(pattern);
    });
  }

  it("server.close() refuses graceMs NaN", async () => {
    const server = createServer();
    const e = await rejection(server.close({ graceMs: Number.NaN }));
    expect(e.rawMessage).toMatch(/invalid option graceMs: NaN/);
    await server.close({ graceMs: 0 });
  });

  for (const [name, options, pattern] of [
    ["timeoutMs NaN", { timeoutMs: Number.NaN }, /invalid option timeoutMs: NaN/],
    ["timeoutMs as a string", { timeoutMs: "100" }, /invalid option timeoutMs: "100"/],
    ["a signal that is not an AbortSignal", { signal: {} }, /invalid option signal/],
  ] as const) {
    it(`a call with ${name} fails with invalid_argument and sends nothing`, async () => {
      const server = createServer();
      server.register(echoDef, echoImpl({ aborted: 0, streamsFinished: 0, yielded: 0 }));
      const transport = createMemoryTransport(server);
      const client = createClient(echoDef, transport);
      const e = await rejection(client.echo({ message: "x" }, options as never));
      expect(e.code).toBe(Code.InvalidArgument);
      expect(e.rawMessage).toMatch(pattern);
      const it = client.count({ count: 1 }, options as never)[Symbol.asyncIterator]();
      expect((await rejection(it.next())).code).toBe(Code.InvalidArgument);
      expect(transport.pendingCalls).toBe(0);
      // The connection is unharmed.
      expect((await client.echo({ message: "ok" })).message).toBe("ok");
      transport.close();
      await server.close({ graceMs: 0 });
    });
  }
});
