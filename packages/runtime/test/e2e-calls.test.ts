import { create } from "@bufbuild/protobuf";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { Code, connect, createClient, createServer, RpcError, type Server, type ConnectionTransport } from "../src/index.js";
import { KvCode } from "@protosocket/gen/test/v1/grouped_pb.js";
import { until } from "./support/reliability.js";
import { startEchoServer, type EchoProbe } from "./support/echo-server.js";
import { frameOf, rawServer } from "./support/raw.js";
import { echoDef, kvDef } from "./support/services.js";

describe("calls", () => {
  let server: Server | undefined;
  let transport: ConnectionTransport | undefined;
  let probe: EchoProbe;
  afterEach(async () => {
    transport?.close();
    await server?.close({ graceMs: 0 });
    server = undefined;
    transport = undefined;
  });

  async function echo() {
    const s = await startEchoServer();
    server = s.server;
    probe = s.probe;
    transport = await connect({ port: s.port });
    return createClient(echoDef, transport);
  }

  it("answers 10,000 concurrent unary calls on one connection, each with its own response", async () => {
    const client = await echo();
    const n = 10_000;
    const results = await Promise.all(Array.from({ length: n }, (_, i) => client.echo({ message: `m${i}` })));
    for (const [i, r] of results.entries()) expect(r.message).toBe(`m${i}`);
    expect(transport?.pendingCalls).toBe(0);
  });

  it("streams in order and completes on End", async () => {
    const client = await echo();
    let expected = 1;
    for await (const item of client.count({ count: 10_000, payloadSize: 8 })) {
      expect(item.n).toBe(expected++);
      expect(item.payload.byteLength).toBe(8);
    }
    expect(expected).toBe(10_001);
  });

  it("does not send a stream's request until iteration starts", async () => {
    const client = await echo();
    const stream = client.count({ count: 3 });
    await sleep(50);
    expect(probe.yielded).toBe(0);
    const got: number[] = [];
    for await (const item of stream) got.push(item.n);
    expect(got).toEqual([1, 2, 3]);
  });

  it("cancels a unary call with an AbortSignal: the handler's signal aborts, the client gets cancelled", async () => {
    const client = await echo();
    const ac = new AbortController();
    const call = client.echo({ message: "sleep:10000" }, { signal: ac.signal });
    await sleep(50);
    ac.abort();
    const err = await call.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe(Code.Cancelled);
    await until(() => probe.aborted === 1, "the handler to observe the cancel");
    // The server's Cancel echo arrives for an id the client forgot: ignored, the connection carries on.
    expect((await client.echo({ message: "after" })).message).toBe("after");
    expect(transport?.pendingCalls).toBe(0);
  });

  it("fails at once, sending nothing, when the signal is already aborted", async () => {
    const client = await echo();
    const err = await client.echo({ message: "x" }, { signal: AbortSignal.abort() }).catch((e: unknown) => e);
    expect((err as RpcError).code).toBe(Code.Cancelled);
  });

  it("times out a unary call with deadline_exceeded and cancels it on the server", async () => {
    const client = await echo();
    const err = await client.echo({ message: "sleep:10000" }, { timeoutMs: 50 }).catch((e: unknown) => e);
    expect((err as RpcError).code).toBe(Code.DeadlineExceeded);
    expect((err as RpcError).message).toMatch(/no response within 50 ms/);
    await until(() => probe.aborted === 1, "the handler to observe the cancel");
  });

  it("times out a stream", async () => {
    const client = await echo();
    const got: number[] = [];
    const err = await (async () => {
      for await (const item of client.count({ count: 1000, delayMs: 50 }, { timeoutMs: 1000 })) got.push(item.n);
    })().catch((e: unknown) => e);
    expect((err as RpcError).code).toBe(Code.DeadlineExceeded);
    expect(got.length).toBeGreaterThan(0);
    await until(() => probe.streamsFinished === 1 && probe.aborted === 1, "the stream handler to stop");
  });

  it("cancels a stream when the consumer leaves the for-await early", async () => {
    const client = await echo();
    let seen = 0;
    for await (const item of client.count({ count: 1_000_000, delayMs: 1 })) {
      seen = item.n;
      if (seen === 5) break;
    }
    expect(seen).toBe(5);
    await until(() => probe.streamsFinished === 1, "the stream handler to stop");
    expect(probe.aborted).toBe(1);
    expect(probe.yielded).toBeLessThan(1000);
    expect((await client.echo({ message: "still fine" })).message).toBe("still fine");
  });

  it("cancels a stream with an AbortSignal mid-way", async () => {
    const client = await echo();
    const ac = new AbortController();
    const got: number[] = [];
    const err = await (async () => {
      for await (const item of client.count({ count: 1_000_000, delayMs: 1 }, { signal: ac.signal })) {
        got.push(item.n);
        if (item.n === 3) ac.abort();
      }
    })().catch((e: unknown) => e);
    expect((err as RpcError).code).toBe(Code.Cancelled);
    await until(() => probe.streamsFinished === 1, "the stream handler to stop");
  });

  it("turns a thrown RpcError into the Status case, and any other error into unknown", async () => {
    const client = await echo();
    const err = await client.fail({ code: Code.PermissionDenied, message: "nope" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe(Code.PermissionDenied);
    expect((err as RpcError).peer).toBe(transport?.peer);
  });

  it("rejects with a bare Cancel when a handler throws a cancelled error", async () => {
    const s = createServer();
    server = s;
    s.registerPartial(echoDef, {
      echo() {
        throw new RpcError(Code.Cancelled, "rejected");
      },
    });
    const { port } = await s.listen();
    transport = await connect({ port });
    const err = await createClient(echoDef, transport)
      .echo({})
      .catch((e: unknown) => e);
    expect((err as RpcError).code).toBe(Code.Cancelled);
    expect((err as RpcError).rawMessage).toBe("call cancelled by the server");
  });

  it("serves grouped envelopes: wrapper cases, ids at other numbers, an error type with an enum code", async () => {
    const s = createServer();
    server = s;
    s.register(kvDef, {
      get(req) {
        if (req.key === "missing") throw new RpcError(Code.NotFound, `no key ${req.key}`);
        return { value: `v:${req.key}` };
      },
      async *scan(req) {
        for (let i = 0; i < req.limit; i++) yield { key: `k${i}` };
      },
    });
    const { port } = await s.listen();
    transport = await connect({ port });
    const kv = createClient(kvDef, transport);
    expect((await kv.get({ key: "a" })).value).toBe("v:a");
    const keys: string[] = [];
    for await (const item of kv.scan({ limit: 3 })) keys.push(item.key);
    expect(keys).toEqual(["k0", "k1", "k2"]);
    const err = await kv.get({ key: "missing" }).catch((e: unknown) => e);
    expect((err as RpcError).code).toBe(Code.NotFound);
    expect(KvCode.NOT_FOUND).toBe(Code.NotFound);
  });

  it("answers unimplemented for a method registered without a handler", async () => {
    const s = createServer();
    server = s;
    s.registerPartial(echoDef, { echo: (req) => ({ message: req.message }) });
    const { port } = await s.listen();
    transport = await connect({ port });
    const client = createClient(echoDef, transport);
    expect((await client.echo({ message: "ok" })).message).toBe("ok");
    const err = await client.fail({}).catch((e: unknown) => e);
    expect((err as RpcError).code).toBe(Code.Unimplemented);
    expect((err as RpcError).rawMessage).toContain("echo.v1.EchoService/Fail is not implemented");
  });

  it("refuses to register a service with a missing handler unless partial", () => {
    const s = createServer();
    expect(() => s.register(echoDef, { echo: () => ({}) } as never)).toThrow(/no handler for Count/);
  });

  it("fails a call with cancelled when the server answers Cancel, and treats unknown codes as Cancel", async () => {
    const raw = await rawServer(echoDef, (peer) => {
      void peer.waitFor(2).then(() => {
        const [a, b] = peer.received;
        const idKey = echoDef.binding.response.id.localName;
        const codeKey = echoDef.binding.response.code.localName;
        peer.write(frameOf(echoDef, "response", create(echoDef.responseEnvelope, { [idKey]: a?.[idKey], [codeKey]: 1 }) as never));
        peer.write(frameOf(echoDef, "response", create(echoDef.responseEnvelope, { [idKey]: b?.[idKey], [codeKey]: 77 }) as never));
      });
    });
    try {
      transport = await connect({ port: raw.port });
      const client = createClient(echoDef, transport);
      const [e1, e2] = await Promise.all([
        client.echo({ message: "a" }).catch((e: unknown) => e),
        client.echo({ message: "b" }).catch((e: unknown) => e),
      ]);
      expect((e1 as RpcError).code).toBe(Code.Cancelled);
      expect((e1 as RpcError).rawMessage).toBe("call cancelled by the server");
      expect((e2 as RpcError).code).toBe(Code.Cancelled);
    } finally {
      transport?.close();
      await raw.close();
    }
  });

  it("refuses a request over the frame limit before writing anything", async () => {
    const s = await startEchoServer();
    server = s.server;
    transport = await connect({ port: s.port, maxFrameBytes: 1024 });
    const client = createClient(echoDef, transport);
    const err = await client.echo({ payload: new Uint8Array(2000) }).catch((e: unknown) => e);
    expect((err as RpcError).code).toBe(Code.ResourceExhausted);
    expect((err as RpcError).message).toMatch(/exceeds the limit of 1024 bytes/);
    expect((await client.echo({ message: "small" })).message).toBe("small");
  });

  it("answers resource_exhausted when a response exceeds the server's frame limit", async () => {
    const s = await startEchoServer({ maxFrameBytes: 64 * 1024 });
    server = s.server;
    transport = await connect({ port: s.port });
    const client = createClient(echoDef, transport);
    const err = await (async () => {
      for await (const _ of client.count({ count: 1, payloadSize: 100_000 })) void _;
    })().catch((e: unknown) => e);
    expect((err as RpcError).code).toBe(Code.ResourceExhausted);
    expect((err as RpcError).rawMessage).toMatch(/exceeds the limit of 65536 bytes/);
    expect((await client.echo({ message: "small" })).message).toBe("small");
  });
});
