/**
 * BenchRun over the in-memory transport (the real codecs and server
 * dispatch, no socket): counts, errors by code, early stops.
 */
import type { DescMethodUnary } from "@bufbuild/protobuf";
import { unaryCaller } from "@protosocket/runtime/protocol";
import {
  Code,
  createMemoryTransport,
  createServer,
  RpcError,
  type Server,
  type ServiceDefinition,
  type Transport,
} from "@protosocket/runtime";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { BenchRun, type BenchCall } from "../src/bench/bench-run.js";
import { loadSchema } from "../src/schema/load-schema.js";
import { echoSchema } from "./support/cli.js";

let def: ServiceDefinition;
let echo: DescMethodUnary;
let fail: DescMethodUnary;
let server: Server | undefined;

beforeAll(async () => {
  const schema = await loadSchema({ proto: [echoSchema[1] as string] });
  const service = schema.service("echo.v1.EchoService");
  def = schema.definition(service);
  echo = service.desc.methods.find((m) => m.name === "Echo") as DescMethodUnary;
  fail = service.desc.methods.find((m) => m.name === "Fail") as DescMethodUnary;
});

afterEach(async () => {
  await server?.close({ graceMs: 0 });
  server = undefined;
});

function serve(failEvery = 0): Server {
  let calls = 0;
  server = createServer();
  server.register(def, {
    echo: (req: { message: string }) => {
      calls++;
      if (failEvery > 0 && calls % failEvery === 0) throw new RpcError(Code.ResourceExhausted, "every nth call fails");
      return { message: req.message };
    },
    async *count() {},
    fail: (req: { message: string }) => {
      throw new RpcError(Code.NotFound, req.message);
    },
  } as never);
  return server;
}

const unary =
  (method: DescMethodUnary): BenchCall =>
  async (t: Transport) => {
    await unaryCaller(t, def, method)({ message: "m" });
    return 1;
  };

describe("BenchRun", () => {
  it("-n: exactly N measured calls, even with more workers than calls, spread over every transport", async () => {
    const s = serve();
    const transports = [createMemoryTransport(s), createMemoryTransport(s)];
    const used = new Set<Transport>();
    const call: BenchCall = async (t) => {
      used.add(t);
      return unary(echo)(t);
    };
    for (const [concurrency, total] of [
      [8, 100],
      [16, 5],
    ] as const) {
      const outcome = await new BenchRun(transports, call, { concurrency, total, warmupMs: 0 }).run();
      expect(outcome.ok).toBe(total);
      expect(outcome.failed).toBe(0);
      expect(outcome.latency.count).toBe(total);
      expect(outcome.stoppedBy).toBe("count");
    }
    expect(used.size).toBe(2);
    for (const t of transports) t.close();
  });

  it("counts failures by code, with an example message", async () => {
    const s = serve(4);
    const t = createMemoryTransport(s);
    const outcome = await new BenchRun([t], unary(echo), { concurrency: 4, total: 40, warmupMs: 0 }).run();
    expect(outcome.ok + outcome.failed).toBe(40);
    expect(outcome.failed).toBe(10);
    expect(outcome.errors).toEqual([
      { code: "resource_exhausted", count: 10, example: expect.stringContaining("every nth call fails") as unknown },
    ]);
    const allFail = await new BenchRun([t], unary(fail), { concurrency: 2, total: 6, warmupMs: 0 }).run();
    expect(allFail.errors.map((e) => [e.code, e.count])).toEqual([["not_found", 6]]);
    t.close();
  });

  it("stops a duration run when a connection closes, and when stopped (Ctrl-C), reporting what it measured", async () => {
    const s = serve();
    const t = createMemoryTransport(s);
    const run = new BenchRun([t], unary(echo), { concurrency: 4, durationMs: 600_000, warmupMs: 0, drainMs: 100 });
    const outcome = run.run();
    while (run.progress().ok < 50) await new Promise((r) => setTimeout(r, 5));
    t.close();
    const lost = await outcome;
    expect(lost.stoppedBy).toBe("connection_lost");
    expect(lost.stopDetail).toContain("closed");
    expect(lost.ok).toBeGreaterThanOrEqual(50);

    const t2 = createMemoryTransport(s);
    const run2 = new BenchRun([t2], unary(echo), { concurrency: 4, durationMs: 600_000, warmupMs: 0 });
    const outcome2 = run2.run();
    while (run2.progress().ok < 50) await new Promise((r) => setTimeout(r, 5));
    run2.stop("interrupted");
    const interrupted = await outcome2;
    expect(interrupted.stoppedBy).toBe("interrupted");
    expect(interrupted.ok).toBeGreaterThanOrEqual(50);
    expect(interrupted.failed).toBe(0);
    t2.close();
  });

  it("warm-up calls are not counted", async () => {
    const s = serve();
    const t = createMemoryTransport(s);
    let made = 0;
    const call: BenchCall = async (tr) => {
      made++;
      return unary(echo)(tr);
    };
    const outcome = await new BenchRun([t], call, { concurrency: 2, total: 20, warmupMs: 50 }).run();
    expect(outcome.ok).toBe(20);
    expect(made).toBeGreaterThan(20);
    t.close();
  });

  it("--rate paces call starts: N calls at R/s cannot finish before (N - 1) / R seconds", async () => {
    const s = serve();
    const t = createMemoryTransport(s);
    const outcome = await new BenchRun([t], unary(echo), { concurrency: 4, total: 21, warmupMs: 0, rate: 200 }).run();
    expect(outcome.ok).toBe(21);
    // Slot k starts no earlier than k / rate after the start (a lower bound the pacing guarantees; timers may fire ~1 ms early).
    expect(outcome.elapsedMs).toBeGreaterThanOrEqual(100 - 5);
    t.close();
  });
});
