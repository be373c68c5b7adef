/**
 * MessagePack interop with the Rust protosocket-messagepack crate, both ways:
 * our client against the Rust `mp-interop-server` (interop/rust/src/mp.rs),
 * the Rust `mp-interop-client` scenarios against our server, for the interop
 * protocol and for protosocket's example-messagepack messages.
 */
import { Code, connect, createClient, type ConnectionTransport, type Server } from "@protosocket/runtime";
import type { MessagePackClient } from "@protosocket/runtime/messagepack";
import { codecsOf, type MethodCodec } from "@protosocket/runtime/protocol";
import { connect as netConnect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExampleService, type Fidelity, MpInteropService, startMpServer } from "./messagepack-services.js";
import { runRustClient, rustPeersStatus, startRustServer, type RustClientRun, type RustServer } from "./rust-peers.js";

const status = rustPeersStatus(["mp-interop-server", "mp-interop-client"]);
const skipped = status.skipReason !== undefined ? ` — skipped: ${status.skipReason}` : "";

if (status.failure !== undefined) {
  describe("MessagePack interop", () => {
    it("needs the Rust interop binaries (CI is set)", () => {
      throw new Error(status.failure);
    });
  });
}

describe.skipIf(!status.run)(`TS client → Rust protosocket-messagepack server${skipped}`, () => {
  let rust: RustServer;
  let transport: ConnectionTransport;
  let client: MessagePackClient<typeof MpInteropService>;

  beforeAll(async () => {
    rust = await startRustServer({ binary: "mp-interop-server" });
    transport = await connect({ port: rust.port });
    client = createClient(MpInteropService, transport);
  });
  afterAll(async () => {
    transport?.close();
    await rust?.stop();
  });

  it("echoes a message and a payload", async () => {
    const payload = new Uint8Array([0, 1, 2, 255]);
    expect(await client.echo({ message: "hello", payload })).toEqual({ message: "hello", payload });
    expect(await client.echo({ message: "", payload: new Uint8Array(0) })).toEqual({ message: "", payload: new Uint8Array(0) });
  });

  it("echoes a 1 MiB payload (Rust writes it back as an array of integers)", async () => {
    const payload = Uint8Array.from({ length: 1 << 20 }, (_, i) => i % 251);
    const res = await client.echo({ message: "large", payload });
    expect(Buffer.from(res.payload).equals(Buffer.from(payload))).toBe(true);
  });

  it("answers 1,000 concurrent calls, each with its own message", async () => {
    const results = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => client.echo({ message: `m${i}`, payload: new Uint8Array([i & 255]) })),
    );
    for (const [i, r] of results.entries()) expect(r.message).toBe(`m${i}`);
  });

  it("streams 10,000 items in order, then ends", async () => {
    let next = 0;
    for await (const item of client.stream({ count: 10_000, payload_size: 16, item_delay_ms: 0 })) {
      expect(item.sequence).toBe(next++);
      expect(item.payload.byteLength).toBe(16);
    }
    expect(next).toBe(10_000);
  });

  it("cancels a stream left early and a unary call by signal: the Rust server drops both handlers", async () => {
    const before = Number((await client.stats({})).cancelled_handlers);
    let seen = 0;
    for await (const _ of client.stream({ count: 1_000_000, payload_size: 8, item_delay_ms: 1 })) if (++seen === 5) break;
    const controller = new AbortController();
    const call = client.sleep({ ms: 10_000 }, { signal: controller.signal });
    await sleep(100);
    controller.abort();
    await expect(call).rejects.toMatchObject({ code: Code.Cancelled });
    const deadline = Date.now() + 5000;
    while (Number((await client.stats({})).cancelled_handlers) < before + 2 && Date.now() < deadline) await sleep(25);
    expect(Number((await client.stats({})).cancelled_handlers)).toBeGreaterThanOrEqual(before + 2);
  });

  it("raises the Error variant as an RpcError, and the Rust server's Cancel as cancelled", async () => {
    await expect(client.fail({ code: 5, message: "not here" })).rejects.toMatchObject({ code: Code.NotFound, rawMessage: "not here" });
    await expect(client.reject({})).rejects.toMatchObject({ code: Code.Cancelled });
  });

  it("writes the bytes rmp_serde writes: the Rust server's frames equal ours for the same responses", async () => {
    const codecs = codecsOf(MpInteropService);
    const method = (name: string) => codecs.methods.find((m) => m.fullName === `interop.mp.InteropService/${name}`) as MethodCodec;
    const socket = netConnect({ port: rust.port });
    await new Promise((r) => socket.once("connect", r));
    let received = Buffer.alloc(0);
    socket.on("data", (d: Buffer) => (received = Buffer.concat([received, d])));
    const frame = (body: Uint8Array) => {
      const prefix = Buffer.from([0xce, 0, 0, 0, 0]);
      prefix.writeUInt32BE(body.length, 1);
      return Buffer.concat([prefix, body]);
    };
    const sent = [
      frame(codecs.request.encode(7, 0, method("Sleep").request, { ms: 1 })),
      frame(codecs.request.encode(2n ** 40n, 0, method("Fail").request, { code: 5, message: "not here" })),
    ];
    socket.write(Buffer.concat(sent));
    const expected = Buffer.concat([
      frame(codecs.response.encode(2n ** 40n, 0, codecs.error?.target, { code: 5, message: "not here" })),
      frame(codecs.response.encode(7, 0, method("Sleep").response, { slept_ms: 1 })),
    ]);
    const deadline = Date.now() + 5000;
    while (received.length < expected.length && Date.now() < deadline) await sleep(5);
    socket.destroy();
    expect([...received].map((b) => b.toString(16).padStart(2, "0")).join(" ")).toBe(
      [...expected].map((b) => b.toString(16).padStart(2, "0")).join(" "),
    );
  });

  it("round-trips what is easy to get wrong through rmp_serde: -0.0, integer map keys, '__proto__' keys; the connection serves on", async () => {
    const names: Record<string, string> = {};
    for (const [k, v] of [
      ["__proto__", "p"],
      ["constructor", "c"],
      ["toString", "t"],
    ]) {
      Object.defineProperty(names, k as string, { value: v, enumerable: true });
    }
    const sent: Fidelity = {
      float: -0,
      by_id: new Map([
        [1, "a"],
        [4_000_000_000, "b"],
      ]),
      sorted: new Map<number | bigint, string>([
        [-5, "minus"],
        [2 ** 40, "big"],
      ]),
      names,
    };
    const echo = await client.fidelity(sent);
    expect(Object.is(echo.float, -0)).toBe(true);
    expect(echo.by_id).toEqual(sent.by_id);
    expect(echo.sorted).toEqual(sent.sorted);
    expect(Object.entries(echo.names)).toEqual(Object.entries(names));
    expect((await client.echo({ message: "after", payload: new Uint8Array(0) })).message).toBe("after");
  });

  it("writes a Fidelity message byte for byte as rmp_serde writes it back", async () => {
    const codecs = codecsOf(MpInteropService);
    const method = codecs.methods.find((m) => m.fullName === "interop.mp.InteropService/Fidelity") as MethodCodec;
    const value: Fidelity = {
      float: -0,
      by_id: new Map([[4_000_000_000, "b"]]),
      sorted: new Map<number | bigint, string>([
        [-5, "minus"],
        [2 ** 40, "big"],
      ]),
      names: { a: "1", b: "2" },
    };
    const socket = netConnect({ port: rust.port });
    await new Promise((r) => socket.once("connect", r));
    let received = Buffer.alloc(0);
    socket.on("data", (d: Buffer) => (received = Buffer.concat([received, d])));
    const body = codecs.request.encode(3, 0, method.request, value as never);
    const prefix = Buffer.from([0xce, 0, 0, 0, 0]);
    prefix.writeUInt32BE(body.length, 1);
    socket.write(Buffer.concat([prefix, body]));
    const expected = codecs.response.encode(3, 0, method.response, value as never);
    const deadline = Date.now() + 5000;
    while (received.length < expected.length + 5 && Date.now() < deadline) await sleep(5);
    socket.destroy();
    const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join(" ");
    expect(hex(received.subarray(5))).toBe(hex(expected));
    // The f64 is float 64 with its sign: cb 80 00 00 00 00 00 00 00.
    expect(hex(expected)).toContain("cb 80 00 00 00 00 00 00 00");
  });

  it("times a call out: deadline_exceeded, and the Rust handler is dropped", async () => {
    await expect(client.sleep({ ms: 10_000 }, { timeoutMs: 100 })).rejects.toMatchObject({ code: Code.DeadlineExceeded });
  });
});

describe.skipIf(!status.run)(`TS client → Rust example-messagepack server${skipped}`, () => {
  let rust: RustServer;
  let transport: ConnectionTransport;

  beforeAll(async () => {
    rust = await startRustServer({ binary: "mp-interop-server", args: ["--protocol", "example"] });
    transport = await connect({ port: rust.port });
  });
  afterAll(async () => {
    transport?.close();
    await rust?.stop();
  });

  it("calls echo (response_behavior Unary) and echoStream (Stream: one item per byte)", async () => {
    const client = createClient(ExampleService, transport);
    const nanotime = 1_732_611_111_000_000_000n;
    expect(await client.echo({ message: "42", nanotime })).toEqual({ message: "42", nanotime });
    const items = [];
    for await (const item of client.echoStream({ message: "hey", nanotime })) items.push(item);
    expect(items).toEqual([
      { message: "h", nanotime, sequence: 0 },
      { message: "e", nanotime, sequence: 1 },
      { message: "y", nanotime, sequence: 2 },
    ]);
  });
});

const MP_SCENARIOS = [
  "unary",
  "empty",
  "large",
  "concurrent",
  "stream",
  "stream_10k",
  "cancel_stream",
  "cancel_unary",
  "error",
  "reject",
  "stats",
  "fidelity",
] as const;

for (const protocol of ["interop", "example"] as const) {
  describe.skipIf(!status.run)(`Rust protosocket-messagepack client → TS server (${protocol})${skipped}`, () => {
    let server: Server;
    let run: RustClientRun;
    let counters: Awaited<ReturnType<typeof startMpServer>>["counters"];
    const scenarios = protocol === "interop" ? MP_SCENARIOS : (["example_unary", "example_stream"] as const);

    beforeAll(async () => {
      const started = await startMpServer(protocol);
      server = started.server;
      counters = started.counters;
      run = await runRustClient({
        port: started.port,
        binary: "mp-interop-client",
        scenarios: [protocol === "interop" ? "all" : "example"],
      });
      const lines = run.stdout.trimEnd().split("\n");
      console.log(`mp-interop-client (${protocol}, exit ${run.status}):\n${lines.map((l) => `  mp-interop-client | ${l}`).join("\n")}`);
      if (run.stderr.trim() !== "") console.log(`mp-interop-client stderr:\n${run.stderr}`);
    }, 300_000);
    afterAll(async () => {
      await server?.close({ graceMs: 0 });
    });

    for (const scenario of scenarios) {
      it(scenario, () => {
        expect(run.results.get(scenario), `mp-interop-client output:\n${run.stdout}\n${run.stderr}`).toBe("PASS");
      });
    }

    it("mp-interop-client exits 0 with every scenario passed", () => {
      expect([...run.results.keys()].sort()).toEqual([...scenarios].sort());
      expect(run.status).toBe(0);
      if (protocol === "interop") expect(counters.cancelledHandlers).toBeGreaterThanOrEqual(2);
    });
  });
}
