/**
 * Slow and stalled readers: a server must stop producing for a
 * client that does not read, keep its memory bounded, and lose nothing when
 * the client reads again. The server and its client share this process, so
 * the memory figures are the process's (the client holds at most its
 * stream buffer).
 */
import { afterEach, describe, expect, it } from "vitest";
import { connect, createClient, type Server, type ConnectionTransport } from "../src/index.js";
import { createEnvelopeCodec } from "../src/protocol.js";
import { frameOf, rawClient } from "./support/raw.js";
import { memory, mib, retainedMemory, sampleMemory, sleep, startProbedServer, until } from "./support/reliability.js";
import { echoDef } from "./support/services.js";

const requestCodec = createEnvelopeCodec(echoDef.requestEnvelope, echoDef.binding.request);
function echoFrame(id: bigint, message: string, payload: Uint8Array): Uint8Array {
  const env = requestCodec.create(id, 0);
  env.body = { case: "echo", value: { $typeName: "echo.v1.EchoRequest", message, payload } };
  return frameOf(echoDef, "request", env);
}

describe("slow and stalled readers", () => {
  let server: Server | undefined;
  const transports: ConnectionTransport[] = [];
  afterEach(async () => {
    for (const t of transports.splice(0)) t.close();
    await server?.close({ graceMs: 0 });
    server = undefined;
  });

  it("pauses a 1,000,000-message stream while its reader stalls, then delivers every message in order", async () => {
    const s = await startProbedServer();
    server = s.server;
    const t = await connect({ port: s.port });
    transports.push(t);
    const client = createClient(echoDef, t);
    const total = 1_000_000;
    const stallAt = 100_000;
    let received = 0;
    const baseHeap = retainedMemory();
    const before = memory();
    const sampler = sampleMemory(25, () => s.probe.total.yielded - received);
    let stall: { atStart: number; parked: number; after4s: number; heldHeap: number } | undefined;
    let outOfOrder: string | undefined;
    for await (const item of client.count({ count: total, payloadSize: 8 })) {
      received++;
      if (item.n !== received && outOfOrder === undefined) outOfOrder = `item ${received} carried n=${item.n}`;
      if (item.n === stallAt) {
        // The reader stops; the producer must park (a whole second without producing; on a busy
        // machine it may take more than a second to get there) and stay parked for 4 s more.
        const atStart = s.probe.total.yielded;
        const giveUp = Date.now() + 30_000;
        let parked = atStart;
        for (;;) {
          const was = s.probe.total.yielded;
          await sleep(1000);
          parked = s.probe.total.yielded;
          if (parked === was || Date.now() > giveUp) break;
        }
        await sleep(4000);
        const after4s = s.probe.total.yielded;
        stall = { atStart, parked, after4s, heldHeap: retainedMemory() };
      }
    }
    const peak = sampler.stop();
    const after = memory();
    console.log(
      `1M stream, stall at #${stallAt}: produced ${stall?.atStart} → ${stall?.parked} (parked) → ${stall?.after4s} (4 s later); ` +
        `peak backlog (yielded − received) ${peak.gauge} messages; ` +
        `heap + buffers after GC ${mib(baseHeap)} before, ${mib(stall?.heldHeap ?? NaN)} during the stall; ` +
        `process heap ${mib(before.heapUsed)} → peak ${mib(peak.heapUsed)} → ${mib(after.heapUsed)}, ` +
        `RSS ${mib(before.rss)} → peak ${mib(peak.rss)} → ${mib(after.rss)}`,
    );
    expect(outOfOrder).toBeUndefined();
    expect(received).toBe(total);
    expect(s.probe.total.yielded).toBe(total);
    // The producer stopped: nothing was produced in the last 4 s of the stall.
    expect(stall?.after4s).toBe(stall?.parked);
    // And it stopped early: far from the end of the stream.
    expect((stall?.after4s ?? total) - stallAt).toBeLessThan(total / 2);
    // Bounded memory: what the stalled stream holds (client buffer, server write queue) is a few MiB, not 1M messages.
    expect((stall?.heldHeap ?? Infinity) - baseHeap).toBeLessThan(64);
    expect(peak.heapUsed - before.heapUsed).toBeLessThan(256);
    await until(() => s.probe.running() === 0, "the stream handler to finish");
  });

  it("stops reading the requests of a client that does not read its unary responses, then answers each one once", async () => {
    const s = await startProbedServer();
    server = s.server;
    const raw = await rawClient(s.port, echoDef);
    raw.socket.pause();
    const peer = `127.0.0.1:${raw.socket.localPort}`;
    const payload = new Uint8Array(4096).fill(7);
    const baseHeap = retainedMemory();
    const before = memory();
    const sampler = sampleMemory(25);
    // Pipeline requests until the server stops reading them: our own writes back up.
    let sent = 0;
    while (raw.socket.writableLength < 4 * 1024 * 1024 && sent < 100_000) {
      raw.write(echoFrame(BigInt(++sent), `#${sent}`, payload));
      if (sent % 64 === 0) await sleep(1);
    }
    await sleep(1000);
    const handled1 = s.probe.of(peer).started;
    await sleep(1000);
    const handled2 = s.probe.of(peer).started;
    const stalled = sampler.stop();
    const heldHeap = retainedMemory();
    console.log(
      `unary responses to a non-reading client: ${sent} requests written, server handled ${handled2} before it stopped reading; ` +
        `${mib(raw.socket.writableLength / 1024 / 1024)} still in our socket; heap + buffers after GC ${mib(baseHeap)} → ${mib(heldHeap)} while stalled; ` +
        `process heap ${mib(before.heapUsed)} → peak ${mib(stalled.heapUsed)}, ` +
        `RSS ${mib(before.rss)} → peak ${mib(stalled.rss)}`,
    );
    // The server stopped reading requests: no handler started in the last second…
    expect(handled2).toBe(handled1);
    expect(handled2).toBeLessThan(sent);
    // …and its memory stayed bounded (it holds at most its write high-water mark of responses).
    expect(heldHeap - baseHeap).toBeLessThan(64);
    expect(stalled.heapUsed - before.heapUsed).toBeLessThan(128);
    // Reading again: every request is answered exactly once.
    raw.socket.resume();
    await raw.waitFor(sent);
    const ids = raw.received.map((env) => env.messageId as bigint);
    expect(new Set(ids).size).toBe(sent);
    expect(
      raw.received.every((env) => (env.body as { case: string; value: { payload: Uint8Array } }).value.payload.byteLength === 4096),
    ).toBe(true);
    await sleep(100);
    expect(raw.received.length).toBe(sent);
    raw.socket.destroy();
    await until(() => s.server.connections === 0, "the connection to close");
  });
});
