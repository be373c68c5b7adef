/**
 * Graceful shutdown under load: while `server.close({ graceMs })`
 * runs, every call that started either completes or fails with a clear code;
 * none hangs and none is silently dropped. Each call is entered in a ledger
 * and accounted for.
 */
import { once } from "node:events";
import { connect as netConnect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { Code, codeToString, connect, createClient, RpcError, type Server, type ConnectionTransport } from "../src/index.js";
import { sleep, startProbedServer, until } from "./support/reliability.js";
import { echoDef } from "./support/services.js";

interface Entry {
  kind: "unary" | "stream" | "late unary" | "late stream" | "late connect";
  /** How long the handler runs (unary), ms. */
  durationMs: number;
  outcome?: "ok" | RpcError | Error;
  /** Items received (streams). */
  items: number;
  /** Items out of order (streams). */
  disorder: number;
}

describe("graceful shutdown under load", () => {
  let server: Server | undefined;
  const transports: ConnectionTransport[] = [];
  afterEach(async () => {
    for (const t of transports.splice(0)) t.close();
    await server?.close({ graceMs: 0 });
    server = undefined;
  });

  it("completes or fails with unavailable every one of 500 unary calls and 20 streams in flight when close({ graceMs }) runs", async () => {
    const s = await startProbedServer();
    server = s.server;
    const graceMs = 1500;
    const ledger: Entry[] = [];
    const settle = (entry: Entry, p: Promise<unknown>): Promise<void> =>
      p.then(
        () => {
          entry.outcome = "ok";
        },
        (e: unknown) => {
          entry.outcome = e instanceof Error ? e : new Error(String(e));
        },
      );
    const work: Promise<void>[] = [];
    const clients = [];
    for (let i = 0; i < 10; i++) {
      const t = await connect({ port: s.port });
      transports.push(t);
      clients.push(createClient(echoDef, t));
    }
    // 500 unary calls of mixed durations: some finish well inside the grace period, some never could.
    const durations = [200, 400, 600, 3000, 10_000];
    for (let i = 0; i < 500; i++) {
      const durationMs = durations[i % durations.length]!;
      const entry: Entry = { kind: "unary", durationMs, items: 0, disorder: 0 };
      ledger.push(entry);
      work.push(settle(entry, clients[i % clients.length]!.echo({ message: `sleep:${durationMs}` })));
    }
    // 20 streams that would run for an hour, read as they arrive.
    const streamsStarted: boolean[] = [];
    for (let i = 0; i < 20; i++) {
      const entry: Entry = { kind: "stream", durationMs: Infinity, items: 0, disorder: 0 };
      ledger.push(entry);
      work.push(
        settle(
          entry,
          (async () => {
            for await (const item of clients[i % clients.length]!.count({ count: 1_000_000, delayMs: 5 })) {
              entry.items++;
              if (item.n !== entry.items) entry.disorder++;
              streamsStarted[i] = true;
            }
          })(),
        ),
      );
    }
    await until(
      () => s.probe.total.started === 520 && streamsStarted.filter(Boolean).length === 20,
      () => `520 handlers started (${s.probe.total.started})`,
    );
    expect(s.probe.running()).toBe(520);

    const closing = s.server.close({ graceMs });
    const closed = closing.then(() => performance.now());
    const closeStartedAt = performance.now();
    // Calls and connections that arrive during the grace period are turned away, clearly.
    for (let i = 0; i < 50; i++) {
      const unary: Entry = { kind: "late unary", durationMs: 0, items: 0, disorder: 0 };
      const stream: Entry = { kind: "late stream", durationMs: 0, items: 0, disorder: 0 };
      ledger.push(unary, stream);
      work.push(settle(unary, clients[i % clients.length]!.echo({ message: "late" })));
      work.push(
        settle(
          stream,
          (async () => {
            for await (const _ of clients[i % clients.length]!.count({ count: 3 })) stream.items++;
          })(),
        ),
      );
      if (i % 10 === 0) {
        const conn: Entry = { kind: "late connect", durationMs: 0, items: 0, disorder: 0 };
        ledger.push(conn);
        work.push(
          settle(
            conn,
            connect({ port: s.port }).then((t) => t.close()),
          ),
        );
      }
      await sleep(5);
    }

    // Nothing hangs: every call settles soon after the grace period.
    const allSettled = Promise.all(work).then(() => "settled" as const);
    const verdict = await Promise.race([allSettled, sleep(graceMs + 5000).then(() => "hung" as const)]);
    const hung = ledger.filter((e) => e.outcome === undefined);
    expect(verdict, `${hung.length} calls never settled: ${JSON.stringify(hung.slice(0, 5))}`).toBe("settled");
    const closeTook = (await closed) - closeStartedAt;

    // Account for every call.
    const tally = new Map<string, number>();
    for (const e of ledger) {
      const o = e.outcome;
      const key = `${e.kind}${e.kind === "unary" ? ` ${e.durationMs} ms` : ""}: ${o === "ok" ? "ok" : o instanceof RpcError ? codeToString(o.code) : `non-RpcError ${o?.message}`}`;
      tally.set(key, (tally.get(key) ?? 0) + 1);
    }
    console.log(
      `graceful close (graceMs ${graceMs}) under load took ${closeTook.toFixed(0)} ms; ${ledger.length} calls accounted for:\n  ` +
        [...tally].map(([k, n]) => `${k} × ${n}`).join("\n  "),
    );
    expect([...tally.values()].reduce((a, b) => a + b, 0)).toBe(ledger.length);

    for (const e of ledger) {
      const o = e.outcome;
      if (o === "ok") continue;
      // Every failure is an RpcError with a clear code: unavailable, and it says why.
      expect(o).toBeInstanceOf(RpcError);
      expect((o as RpcError).code, `${e.kind}: ${(o as RpcError).message}`).toBe(Code.Unavailable);
    }
    // Calls short enough to finish inside the grace period finished.
    for (const e of ledger.filter((x) => x.kind === "unary" && x.durationMs <= 600)) expect(e.outcome).toBe("ok");
    // Calls that could not were cancelled when it ran out, and were told so.
    for (const e of ledger.filter((x) => x.kind === "unary" && x.durationMs >= 3000)) {
      expect((e.outcome as RpcError).rawMessage).toMatch(/grace period of 1500 ms/);
    }
    // Streams delivered their items in order, then failed with unavailable.
    for (const e of ledger.filter((x) => x.kind === "stream")) {
      expect(e.items).toBeGreaterThan(0);
      expect(e.disorder).toBe(0);
      expect((e.outcome as RpcError).rawMessage).toMatch(/grace period/);
    }
    // Late calls on open connections were refused as the server drained, or failed as it closed.
    for (const e of ledger.filter((x) => x.kind === "late unary" || x.kind === "late stream")) {
      expect((e.outcome as RpcError).rawMessage).toMatch(/server is shutting down|grace period|connection (is )?closed/);
    }
    // New connections were refused.
    for (const e of ledger.filter((x) => x.kind === "late connect")) expect((e.outcome as RpcError).code).toBe(Code.Unavailable);

    // The server side: every handler finished, those cut short saw their signal abort.
    await until(
      () => s.probe.running() === 0,
      () => `every handler to finish (${s.probe.running()} running)`,
    );
    const cutShort = ledger.filter((e) => (e.kind === "unary" && e.durationMs >= 3000) || e.kind === "stream").length;
    expect(s.probe.total.aborted).toBe(cutShort);
    expect(s.server.connections).toBe(0);
    for (const t of transports) {
      await until(() => t.isClosed, "the client to see its connection closed");
      expect(t.pendingCalls).toBe(0);
    }
    server = undefined;
  });

  // Server.close() ends each connection after writing out what is queued; a
  // client that does not read would keep it open forever, so close() destroys
  // connections that have not closed SHUTDOWN_FLUSH_MS after shutdown.
  it("finishes closing when a client has stopped reading, instead of waiting on it forever", async () => {
    const s = await startProbedServer();
    server = s.server;
    // A client that asks for a large stream and never reads: the server's writes to it back up.
    const raw = netConnect({ host: "127.0.0.1", port: s.port });
    raw.on("error", () => {});
    await once(raw, "connect");
    try {
      raw.pause();
      // Count: id 1, count 1,000,000, payload 1,024 bytes.
      raw.write(new Uint8Array([0x0b, 0x08, 0x01, 0x22, 0x07, 0x08, 0xc0, 0x84, 0x3d, 0x18, 0x80, 0x08]));
      await until(() => s.probe.total.yielded > 1000 && s.probe.running() === 1, "the stream to start");
      await sleep(200); // its writes back up
      const healthy = await connect({ port: s.port });
      transports.push(healthy);
      const call = createClient(echoDef, healthy).echo({ message: "sleep:100" });
      await until(() => s.probe.running() === 2, "the healthy call to start");
      const t0 = performance.now();
      const closing = s.server.close({ graceMs: 300 }).then(() => "closed");
      expect((await call).message).toBe("sleep:100");
      const outcome = await Promise.race([closing, sleep(3000).then(() => "still closing after 3 s")]);
      console.log(`close({ graceMs: 300 }) with a client that does not read: ${outcome} after ${(performance.now() - t0).toFixed(0)} ms`);
      expect(outcome).toBe("closed");
      expect(s.probe.running()).toBe(0);
    } finally {
      raw.destroy(); // lets a hanging close() finish, for the next test
    }
  });
});
