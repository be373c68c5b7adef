/**
 * The Rust interop-client (protosocket-rpc 2.x) → the TypeScript interop server
 * (the generated InteropServiceDefinition on @protosocket/runtime), plain TCP and TLS.
 * Each scenario of `interop-client --scenario all` is reported as its own test.
 */
import type { RpcError } from "@protosocket/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startInteropServer, type InteropServer } from "./interop-server.js";
import { RUST_CLIENT_SCENARIOS, runRustClient, rustPeersStatus, testCert, type RustClientRun } from "./rust-peers.js";

const status = rustPeersStatus();

if (status.failure !== undefined) {
  describe("Rust client → TS server", () => {
    it("needs the Rust interop binaries (CI is set)", () => {
      throw new Error(status.failure);
    });
  });
}

for (const tls of [false, true]) {
  const title = tls ? "TLS (rustls client connector: TLS 1.3 only, no ALPN, server name localhost)" : "plain TCP";
  describe.skipIf(!status.run)(
    `Rust client → TS server (${title})${status.skipReason !== undefined ? ` — skipped: ${status.skipReason}` : ""}`,
    () => {
      let server: InteropServer;
      let run: RustClientRun;
      const handlerErrors: string[] = [];

      beforeAll(async () => {
        server = await startInteropServer({
          ...(tls ? { tls: { key: testCert.key, cert: testCert.cert } } : {}),
          onHandlerError: (e: RpcError, method: string) => handlerErrors.push(`${method}: ${e.message}`),
        });
        run = await runRustClient({ port: server.port, tls });
        const lines = run.stdout.trimEnd().split("\n");
        // Each line quoted, so a CI log reader does not take the client's "N passed, M failed" for the suite's.
        console.log(
          `interop-client --scenario all${tls ? " --tls" : ""} (exit ${run.status}):\n${lines.map((l) => `  interop-client | ${l}`).join("\n")}`,
        );
        if (run.stderr.trim() !== "") console.log(`interop-client stderr:\n${run.stderr}`);
      }, 300_000);
      afterAll(async () => {
        await server?.close();
      });

      for (const scenario of RUST_CLIENT_SCENARIOS) {
        it(`${scenario}`, () => {
          expect(run.results.get(scenario), `interop-client output:\n${run.stdout}\n${run.stderr}`).toBe("PASS");
        });
      }

      it("interop-client exits 0 with every scenario passed and none unknown to this suite", () => {
        expect([...run.results.keys()].sort()).toEqual([...RUST_CLIENT_SCENARIOS].sort());
        expect(run.stdout).toContain(`${RUST_CLIENT_SCENARIOS.length} passed, 0 failed`);
        expect(run.status).toBe(0);
      });

      it("the TS handlers observed both cancellations and the rejection", () => {
        expect(server.counters.cancelledHandlers).toBeGreaterThanOrEqual(2n);
        expect(server.counters.rejected).toBe(1n);
        // `fail` is the only handler that throws an error meant for the client.
        expect(handlerErrors.every((e) => e.includes("InteropService/Fail"))).toBe(true);
      });
    },
  );
}
