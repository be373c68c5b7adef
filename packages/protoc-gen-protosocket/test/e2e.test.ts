// End to end over loopback TCP through the generated code: the
// production-shaped kv protocol (proto/fixture/kv/v1: id and code at fields
// 10 and 11 under other names, unary commands grouped under a `Unary`
// wrapper, an error type of its own with an enum code), bound by a service in
// a file of its own, for the target=ts output (the repository's generated
// tree, @protosocket/gen) and the target=js+dts output (generated here).
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { connect as netConnect } from "node:net";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as interop from "@protosocket/gen/interop/v1/interop_service_protosocket.js";
import * as tsKv from "@protosocket/gen/fixture/kv/v1/kv_service_protosocket.js";
import * as tsProtocol from "@protosocket/gen/fixture/kv/v1/protocol_pb.js";
import { ErrorCode, RequestSchema, ResponseSchema, type Response } from "@protosocket/gen/fixture/kv/v1/protocol_pb.js";
import { Code, connect, createClient, createServer, RpcError, type Server, type Transport } from "@protosocket/runtime";
import { createFrameDecoder, encodeFrame } from "@protosocket/runtime/protocol";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { generateRepoProtos, packageDir } from "./helpers.js";

// The target=js+dts output, in a scratch directory inside the package so that
// @protosocket/runtime resolves from the workspace.
const scratch = mkdtempSync(join(packageDir, "test", ".tmp-e2e-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
generateRepoProtos(scratch, ["fixture/kv"], "target=js+dts");
const jsKv = (await import(pathToFileURL(join(scratch, "fixture/kv/v1/kv_service_protosocket.js")).href)) as typeof tsKv;
const jsProtocol = (await import(pathToFileURL(join(scratch, "fixture/kv/v1/protocol_pb.js")).href)) as typeof tsProtocol;

type Kv = typeof tsKv;

/** A kv store; records what its handlers observed. */
function kvHandlers(seen: { cancelled: number }): tsKv.KvServiceHandlers {
  const store = new Map<string, Uint8Array>();
  return {
    get(request) {
      const value = store.get(request.key);
      if (value === undefined) throw new RpcError(Code.NotFound, `no key "${request.key}"`);
      return { value };
    },
    async put(request) {
      const replaced = store.has(request.key);
      store.set(request.key, request.value);
      return { replaced };
    },
    async *watch(request, ctx) {
      const keys = [...store.keys()].filter((k) => k.startsWith(request.prefix)).sort();
      ctx.signal.addEventListener("abort", () => seen.cancelled++);
      for (let i = 0; i < request.limit; i++) {
        const key = keys[i % Math.max(keys.length, 1)] ?? "";
        yield { key, value: store.get(key) ?? new Uint8Array() };
        if (request.limit > 100) await new Promise((r) => setTimeout(r, 1));
      }
    },
    delete(request) {
      store.delete(request.key);
      return {};
    },
  };
}

describe.each([
  ["target=ts", tsKv as Kv, tsProtocol],
  ["target=js+dts", jsKv as Kv, jsProtocol],
])("generated kv service (%s) over TCP", (_, kv, protocol) => {
  let server: Server | undefined;
  let transport: Transport | undefined;
  afterEach(async () => {
    transport?.close();
    await server?.close({ graceMs: 0 });
    server = undefined;
    transport = undefined;
  });

  async function start(register: (s: Server) => void): Promise<{ port: number; client: tsKv.KvServiceClient }> {
    server = createServer();
    register(server);
    const { host, port } = await server.listen({ host: "127.0.0.1", port: 0 });
    transport = await connect({ host, port });
    return { port, client: createClient(kv.KvServiceDefinition, transport) };
  }

  it("calls unary methods through the grouped request cases and streams through the direct ones", async () => {
    const seen = { cancelled: 0 };
    const { client } = await start((s) => s.register(kv.KvServiceDefinition, kvHandlers(seen)));
    const bytes = new TextEncoder().encode("v1");
    expect((await client.put({ key: "a/1", value: bytes })).replaced).toBe(false);
    expect((await client.put({ key: "a/2", value: bytes })).replaced).toBe(false);
    expect((await client.put({ key: "a/1", value: new Uint8Array([9]) })).replaced).toBe(true);
    expect([...(await client.get({ key: "a/1" })).value]).toEqual([9]);
    const keys: string[] = [];
    for await (const event of client.watch({ prefix: "a/", limit: 3 })) keys.push(event.key);
    expect(keys).toEqual(["a/1", "a/2", "a/1"]);
    await client.delete({ key: "a/1" });
    const err = await client.get({ key: "a/1" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe(Code.NotFound);
    expect((err as RpcError).rawMessage).toBe('no key "a/1"');
    expect((err as RpcError).message).toContain("fixture.kv.v1.KvService/Get");
  });

  it("cancels a stream the client leaves early, and the handler sees it", async () => {
    const seen = { cancelled: 0 };
    const { client } = await start((s) => s.register(kv.KvServiceDefinition, kvHandlers(seen)));
    await client.put({ key: "k", value: new Uint8Array([1]) });
    let n = 0;
    for await (const _ of client.watch({ prefix: "", limit: 100_000 })) {
      if (++n === 3) break;
    }
    expect(n).toBe(3);
    await expect.poll(() => seen.cancelled, { timeout: 5000 }).toBe(1);
    // The connection is still usable.
    expect([...(await client.get({ key: "k" })).value]).toEqual([1]);
  });

  it("answers `unimplemented` for methods a partial implementation leaves out", async () => {
    const { client } = await start((s) => s.registerPartial(kv.KvServiceDefinition, { get: () => ({ value: new Uint8Array([7]) }) }));
    expect([...(await client.get({ key: "x" })).value]).toEqual([7]);
    const err = await client.put({ key: "x", value: new Uint8Array() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe(Code.Unimplemented);
  });

  it("speaks the user's envelope on the wire, as a peer that only has protocol.proto sees it", async () => {
    const { port } = await start((s) => s.register(kv.KvServiceDefinition, kvHandlers({ cancelled: 0 })));
    const socket = netConnect({ host: "127.0.0.1", port });
    await once(socket, "connect");
    const frames: Response[] = [];
    const decoder = createFrameDecoder();
    socket.on("data", (chunk: Buffer) => decoder.push(chunk, (body) => frames.push(fromBinary(ResponseSchema, body))));
    const send = (init: Parameters<typeof create<typeof RequestSchema>>[1]) =>
      socket.write(encodeFrame(toBinary(RequestSchema, create(RequestSchema, init)), 4 << 20));

    send({ id: 7n, kind: { case: "unary", value: { command: { case: "put", value: { key: "k", value: new Uint8Array([5]) } } } } });
    send({ id: 8n, kind: { case: "unary", value: { command: { case: "get", value: { key: "k" } } } } });
    send({ id: 9n, kind: { case: "unary", value: { command: { case: "get", value: { key: "missing" } } } } });
    send({ id: 10n, kind: { case: "watch", value: { prefix: "k", limit: 2 } } });
    await expect.poll(() => frames.length, { timeout: 5000 }).toBe(6);
    socket.destroy();

    const byId = (id: bigint) => frames.filter((f) => f.id === id);
    expect(byId(7n).map((f) => [f.control, f.result.case])).toEqual([[0, "put"]]);
    expect(byId(8n).map((f) => [f.control, f.result.case, f.result.case === "get" ? [...f.result.value.value] : undefined])).toEqual([
      [0, "get", [5]],
    ]);
    const [failure] = byId(9n);
    expect(failure?.result.case).toBe("failure");
    expect(failure?.result.case === "failure" && failure.result.value.code).toBe(ErrorCode.NOT_FOUND);
    expect(failure?.result.case === "failure" && failure.result.value.message).toBe('no key "missing"');
    // Two Normal frames on the watch case, then End (2).
    expect(byId(10n).map((f) => [f.control, f.result.case])).toEqual([
      [0, "watch"],
      [0, "watch"],
      [2, undefined],
    ]);
    // The js variant's schemas are the same messages.
    expect(protocol.ResponseSchema.typeName).toBe("fixture.kv.v1.Response");
  });
});

describe("generated interop service (request_id/code envelopes bound from a separate file)", () => {
  it("echoes", async () => {
    const server = createServer();
    server.registerPartial(interop.InteropServiceDefinition, {
      echo: (req) => ({ message: req.message.toUpperCase(), payload: req.payload }),
    });
    const { host, port } = await server.listen({ host: "127.0.0.1", port: 0 });
    const transport = await connect({ host, port });
    try {
      const client = createClient(interop.InteropServiceDefinition, transport);
      const res = await client.echo({ message: "hi", payload: new Uint8Array([1, 2]) });
      expect(res.message).toBe("HI");
      expect([...res.payload]).toEqual([1, 2]);
      await expect(client.stats({})).rejects.toMatchObject({ code: Code.Unimplemented });
    } finally {
      transport.close();
      await server.close({ graceMs: 0 });
    }
  });
});
