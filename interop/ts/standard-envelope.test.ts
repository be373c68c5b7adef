/**
 * The standard envelope (protosocket.v1.Request / Response) against the real Rust
 * crates, both ways: the gRPC-style routeguide.v1 services, generated with
 * default_envelope=standard, called by our client on the Rust `std-interop-server`
 * (protosocket-rpc + protosocket-prost with one Message impl per envelope message),
 * and served by our server to the Rust `std-interop-client`.
 */
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { PointSchema } from "@protosocket/gen/routeguide/v1/route_guide_pb.js";
import { RouteGuideServiceDefinition, RouteStatsServiceDefinition } from "@protosocket/gen/routeguide/v1/route_guide_protosocket.js";
import { Code, connect, createClient, RpcError, type ConnectionTransport, type Server } from "@protosocket/runtime";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runRustClient, rustPeersStatus, startRustServer, type RustClientRun, type RustServer } from "./rust-peers.js";
import { startStandardServer, type StandardCounters } from "./standard-services.js";

const BINARIES = ["std-interop-server", "std-interop-client"];
const status = rustPeersStatus(BINARIES);

/** The scenarios of `std-interop-client --scenario all` (interop/rust/src/std_client.rs), in order. */
const STD_CLIENT_SCENARIOS = ["unary", "empty", "metadata", "error", "deadline", "unimplemented", "concurrent", "stream", "cancel"];

if (status.failure !== undefined) {
  describe("the standard envelope with Rust peers", () => {
    it("needs the Rust interop binaries (CI is set)", () => {
      throw new Error(status.failure);
    });
  });
}

async function failure(p: Promise<unknown>): Promise<RpcError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(RpcError);
  return e as RpcError;
}

describe.skipIf(!status.run)(
  `standard envelope: TS client → Rust server${status.skipReason !== undefined ? ` — skipped: ${status.skipReason}` : ""}`,
  () => {
    let rust: RustServer;
    let transport: ConnectionTransport;
    const route = () => createClient(RouteGuideServiceDefinition, transport);
    const stats = () => createClient(RouteStatsServiceDefinition, transport);

    beforeAll(async () => {
      rust = await startRustServer({ binary: "std-interop-server" });
      transport = await connect({ host: "127.0.0.1", port: rust.port });
    });
    afterAll(async () => {
      transport?.close();
      await rust?.stop();
    });

    it("unary, and two services on one connection", async () => {
      const f = await route().getFeature({ latitude: 1, longitude: 2 });
      expect(f.name).toBe("feature at 1,2");
      expect(f.location).toMatchObject({ latitude: 1, longitude: 2 });
      expect((await stats().getStats({})).calls).toBeGreaterThan(0n);
    });

    it("metadata and the deadline reach the Rust handler; its trailers come back", async () => {
      let trailers: Record<string, string> = {};
      await route().getFeature(
        { latitude: 3, longitude: 4 },
        { metadata: { "x-token": "abc" }, timeoutMs: 30_000, onTrailer: (t) => (trailers = Object.fromEntries(t)) },
      );
      expect(trailers["echo-x-token"]).toBe("abc");
      expect(Number(trailers["deadline-ms"])).toBeGreaterThan(0);
      expect(Number(trailers["deadline-ms"])).toBeLessThanOrEqual(30_000);
    });

    it("the Rust handler's error arrives with its code, message and details", async () => {
      const e = await failure(route().getFeature({ latitude: 0, longitude: 0 }));
      expect(e.code).toBe(Code.NotFound);
      expect(e.rawMessage).toBe("no feature at 0,0");
      const detail = e.details[0];
      expect(detail === undefined ? undefined : anyUnpack(detail, PointSchema)).toMatchObject({ latitude: 0, longitude: 0 });
    });

    it("a deadline fails the call with deadline_exceeded", async () => {
      const e = await failure(route().getFeature({ latitude: -1 }, { timeoutMs: 200 }));
      expect(e.code).toBe(Code.DeadlineExceeded);
    });

    it("a method the Rust server does not serve (client streaming: no such rpc in the crate) is unimplemented", async () => {
      async function* points() {
        yield { latitude: 1 };
      }
      const e = await failure(route().recordRoute(points()));
      expect(e.code).toBe(Code.Unimplemented);
      expect(e.rawMessage).toContain("routeguide.v1.RouteGuideService/RecordRoute");
    });

    it("server streaming: every item, in order, then End", async () => {
      const names: string[] = [];
      for await (const f of route().listFeatures({ lo: { latitude: 1 }, hi: { latitude: 500 } })) names.push(f.name);
      expect(names).toEqual(Array.from({ length: 500 }, (_, i) => `f${i + 1}`));
    });

    it("1,000 calls in flight on one connection", async () => {
      const all = await Promise.all(Array.from({ length: 1000 }, (_, i) => route().getFeature({ latitude: i + 1, longitude: 1 })));
      expect(all.every((f, i) => f.name === `feature at ${i + 1},1`)).toBe(true);
    });

    it("an aborted call sends Cancel: the Rust server drops its handler", async () => {
      const before = (await stats().getStats({})).byMethod.cancelled ?? 0n;
      const controller = new AbortController();
      const call = route().getFeature({ latitude: -1 }, { signal: controller.signal });
      await sleep(100);
      controller.abort();
      expect((await failure(call)).code).toBe(Code.Cancelled);
      const deadline = Date.now() + 10_000;
      for (;;) {
        const now = (await stats().getStats({})).byMethod.cancelled ?? 0n;
        if (now > before) break;
        if (Date.now() > deadline) throw new Error(`the Rust server counted no cancelled call (${before} then ${now})`);
        await sleep(25);
      }
    });
  },
);

describe.skipIf(!status.run)(
  `standard envelope: Rust client → TS server${status.skipReason !== undefined ? ` — skipped: ${status.skipReason}` : ""}`,
  () => {
    let server: Server;
    let counters: StandardCounters;
    let run: RustClientRun;

    beforeAll(async () => {
      const started = await startStandardServer();
      server = started.server;
      counters = started.counters;
      run = await runRustClient({ port: started.port, binary: "std-interop-client" });
      console.log(
        `std-interop-client --scenario all (exit ${run.status}):\n${run.stdout
          .trimEnd()
          .split("\n")
          .map((l) => `  std-interop-client | ${l}`)
          .join("\n")}`,
      );
      if (run.stderr.trim() !== "") console.log(`std-interop-client stderr:\n${run.stderr}`);
    }, 300_000);
    afterAll(async () => {
      await server?.close();
    });

    for (const scenario of STD_CLIENT_SCENARIOS) {
      it(scenario, () => {
        expect(run.results.get(scenario), `std-interop-client output:\n${run.stdout}\n${run.stderr}`).toBe("PASS");
      });
    }

    it("std-interop-client exits 0 with every scenario passed and none unknown to this suite", () => {
      expect([...run.results.keys()]).toEqual(STD_CLIENT_SCENARIOS);
      expect(run.stdout).toContain(`${STD_CLIENT_SCENARIOS.length} passed, 0 failed`);
      expect(run.status).toBe(0);
      expect(counters.cancelled).toBeGreaterThanOrEqual(1n);
    });
  },
);
