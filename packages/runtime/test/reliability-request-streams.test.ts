/**
 * Request streams under load: many interleaved bidi calls on one
 * connection, and a slow reader on each side (a handler that stops reading
 * its requests, a client that stops reading its responses) with the
 * producer parked and memory bounded, then every message delivered in order.
 * The server and its client share this process, so the memory figures are
 * the process's.
 */
import { afterEach, describe, expect, it } from "vitest";
import { connect, createClient, createMemoryTransport, type ConnectionTransport, type Server } from "../src/index.js";
import { mib, retainedMemory, sleep, until } from "./support/reliability.js";
import { startStreamingServer, streamingDef } from "./support/streaming.js";

describe("request streams under load", () => {
  let server: Server | undefined;
  const transports: ConnectionTransport[] = [];
  afterEach(async () => {
    for (const t of transports.splice(0)) t.close();
    await server?.close({ graceMs: 0 });
    server = undefined;
  });

  async function start(
    over: "tcp" | "memory",
    options: Parameters<typeof startStreamingServer>[0] = {},
    impl: { repeat?: number } = {},
    streamBufferMessages?: number,
  ) {
    const s = await startStreamingServer(options, impl);
    server = s.server;
    const clientOptions = streamBufferMessages === undefined ? {} : { streamBufferMessages };
    const t = over === "tcp" ? await connect({ port: s.port, ...clientOptions }) : createMemoryTransport(s.server, clientOptions);
    transports.push(t);
    return { client: createClient(streamingDef, t), probe: s.probe, transport: t };
  }

  for (const over of ["tcp", "memory"] as const) {
    it(`runs 200 interleaved bidi calls and 50 uploads on one connection, each answered with its own messages in order (${over})`, async () => {
      const { client, probe, transport } = await start(over);
      const calls = 200;
      const perCall = 200;
      const chats = Array.from({ length: calls }, async (_, c) => {
        const requests = (async function* () {
          for (let seq = 1; seq <= perCall; seq++) {
            // Producers at different paces, so frames of different calls interleave on the wire.
            if ((seq + c) % 7 === 0) await sleep(c % 3);
            yield { seq, text: `call ${c} message ${seq}`, payload: new Uint8Array(c % 64) };
          }
        })();
        const got: string[] = [];
        for await (const m of client.chat(requests)) {
          got.push(m.text);
          if (m.payload.byteLength !== c % 64) throw new Error(`call ${c}: payload of ${m.payload.byteLength} bytes`);
          if (m.seq % 50 === 0) await sleep(1);
        }
        return got;
      });
      const uploads = Array.from({ length: 50 }, (_, u) =>
        client.upload(
          (async function* () {
            for (let seq = 1; seq <= 100; seq++) {
              if (seq % 10 === u % 10) await sleep(0);
              yield { seq, data: new Uint8Array(u) };
            }
          })(),
        ),
      );
      const results = await Promise.all(chats);
      for (const [c, got] of results.entries())
        expect(got).toEqual(Array.from({ length: perCall }, (_, i) => `call ${c} message ${i + 1}`));
      const summaries = await Promise.all(uploads);
      for (const [u, s] of summaries.entries()) expect(s).toMatchObject({ chunks: 100, bytes: BigInt(100 * u), lastSeq: 100 });
      expect(transport.pendingCalls).toBe(0);
      await until(() => probe.running === 0, "every handler to finish");
      expect(probe.received).toBe(calls * perCall + 50 * 100);
    });

    it(`parks the uploader while its handler stops reading, with memory bounded, then delivers every chunk in order (${over})`, async () => {
      const { client, probe } = await start(over);
      const total = 100_000;
      const stallAt = 2_000;
      const data = new Uint8Array(1024).fill(7);
      let pulled = 0;
      let outOfOrder: string | undefined;
      const baseHeap = retainedMemory();
      let stall: { atStart: number; after1s: number; after2s: number; heldHeap: number } | undefined;
      const requests = (async function* () {
        for (let seq = 1; seq <= total; seq++) {
          pulled++;
          // The handler stops reading at chunk `stallAt` ("sleep:2500"); measure while it sleeps.
          yield { seq, data, note: seq === stallAt ? "sleep:2500" : "" };
        }
      })();
      const watcher = (async () => {
        await until(() => probe.received >= stallAt, "the handler to reach the stall", 30_000);
        await sleep(250);
        const atStart = pulled;
        await sleep(1000);
        const after1s = pulled;
        await sleep(1000);
        stall = { atStart, after1s, after2s: pulled, heldHeap: retainedMemory() };
      })();
      const summary = await client.upload(requests);
      await watcher;
      if (summary.lastSeq !== total) outOfOrder = `last seq ${summary.lastSeq}`;
      console.log(
        `upload of ${total} × 1 KiB, handler stalled 2.5 s at #${stallAt}: producer pulled ${stall?.atStart} → ${stall?.after1s} (1 s) → ${stall?.after2s} (2 s); ` +
          `heap + buffers after GC ${mib(baseHeap)} before, ${mib(stall?.heldHeap ?? Number.NaN)} during the stall (${over})`,
      );
      expect(outOfOrder).toBeUndefined();
      expect(summary).toMatchObject({ chunks: total, bytes: BigInt(total * 1024) });
      // The producer stopped while the handler did not read…
      expect(stall?.after2s).toBe(stall?.after1s);
      // …soon after the stall began, far from the end of the upload…
      expect((stall?.after2s ?? total) - stallAt).toBeLessThan(total / 4);
      // …and what the stalled call holds (server buffer, write queues) is a few MiB, not 100 MiB of chunks.
      expect((stall?.heldHeap ?? Number.POSITIVE_INFINITY) - baseHeap).toBeLessThan(48);
    });

    it(`parks the server and the client's producer while the client stops reading bidi responses, with memory bounded (${over})`, async () => {
      // Each request is answered with 2 responses of 1 KiB: the responses outgrow the requests. The client buffers
      // at most 4,096 unread responses (each may pin the 64 KiB read it arrived in) before it stops reading.
      const { client, probe } = await start(over, {}, { repeat: 2 }, 4096);
      const total = 80_000;
      const payload = new Uint8Array(1024).fill(9);
      let pulled = 0;
      const requests = (async function* () {
        for (let seq = 1; seq <= total; seq++) {
          pulled++;
          yield { seq, text: "", payload };
        }
      })();
      const baseHeap = retainedMemory();
      let received = 0;
      let expectedSeq = 1;
      let perSeq = 0;
      let outOfOrder: string | undefined;
      let stall:
        | { producedAtStart: number; produced1s: number; produced2s: number; pulled1s: number; pulled2s: number; heldHeap: number }
        | undefined;
      for await (const m of client.chat(requests)) {
        received++;
        if (m.seq !== expectedSeq && outOfOrder === undefined)
          outOfOrder = `response ${received} carried seq ${m.seq}, expected ${expectedSeq}`;
        if (++perSeq === 2) {
          perSeq = 0;
          expectedSeq++;
        }
        if (received === 2_000) {
          // The reader stops for 2 s.
          const producedAtStart = probe.yielded;
          await sleep(1000);
          const produced1s = probe.yielded;
          const pulled1s = pulled;
          await sleep(1000);
          stall = { producedAtStart, produced1s, produced2s: probe.yielded, pulled1s, pulled2s: pulled, heldHeap: retainedMemory() };
        }
      }
      console.log(
        `bidi of ${total} requests × 2 responses of 1 KiB, reader stalled 2 s at response 2,000: server produced ${stall?.producedAtStart} → ${stall?.produced1s} (1 s) → ${stall?.produced2s} (2 s), ` +
          `client producer ${stall?.pulled1s} → ${stall?.pulled2s}; heap + buffers after GC ${mib(baseHeap)} before, ${mib(stall?.heldHeap ?? Number.NaN)} during the stall (${over})`,
      );
      expect(outOfOrder).toBeUndefined();
      expect(received).toBe(total * 2);
      // Both producers stopped: the server's handler (its responses are not read) and the client's requests (the server stopped reading them).
      expect(stall?.produced2s).toBe(stall?.produced1s);
      expect(stall?.pulled2s).toBe(stall?.pulled1s);
      expect(stall?.pulled2s ?? total).toBeLessThan(total / 2);
      expect((stall?.heldHeap ?? Number.POSITIVE_INFINITY) - baseHeap).toBeLessThan(64);
      await until(() => probe.running === 0, "the handler to finish");
    });
  }
});
