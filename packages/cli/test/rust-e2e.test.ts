/**
 * Every subcommand against the Rust interop server (protosocket-rpc 2.x,
 * interop/rust), bound from `--proto proto/interop/v1/interop_service.proto`:
 * Rust-style envelopes (`request_id` / `code`) that the CLI binds at run time.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BenchSummary, ServiceDescription } from "../src/index.js";
import { interopSchema, jsonLines, runProtosocket, startProtosocket } from "./support/cli.js";
import { rustServerStatus, startRustServer, type ServerProcess } from "./support/servers.js";

const status = rustServerStatus();

describe.runIf(status.run || status.failure !== undefined)("against the Rust interop server", () => {
  let rust: ServerProcess;
  let target: string;

  beforeAll(async () => {
    if (status.failure !== undefined) throw new Error(status.failure);
    rust = await startRustServer();
    target = `127.0.0.1:${rust.port}`;
  });

  afterAll(async () => {
    await rust?.stop();
  });

  const stats = async () => {
    const run = await runProtosocket(["call", target, "interop.v1.InteropService/Stats", ...interopSchema]);
    expect(run.code, run.stderr).toBe(0);
    return JSON.parse(run.stdout) as { cancelledHandlers?: string; completed?: string };
  };

  it("list and describe show the Rust-style binding: request_id and code, resolved from the service option", async () => {
    const list = await runProtosocket(["list", ...interopSchema, "--json"]);
    expect(list.code, list.stderr).toBe(0);
    const services = JSON.parse(list.stdout) as ServiceDescription[];
    expect(services.map((s) => [s.name, s.bound])).toEqual([["interop.v1.InteropService", true]]);
    const describe = await runProtosocket(["describe", "interop.v1.InteropService", ...interopSchema, "--json"]);
    const s = JSON.parse(describe.stdout) as ServiceDescription;
    expect(s.envelopes?.request).toEqual({
      type: "interop.v1.Request",
      messageId: { field: "request_id", number: 1 },
      controlCode: { field: "code", number: 2 },
    });
    expect(s.envelopes?.response.error?.path).toBe("error");
    expect(s.methods.map((m) => [m.name, m.kind, m.requestCase?.numbers])).toEqual([
      ["Echo", "unary", [3]],
      ["Stream", "server_streaming", [4]],
      ["Sleep", "unary", [5]],
      ["Fail", "unary", [6]],
      ["Reject", "unary", [7]],
      ["Stats", "unary", [8]],
    ]);
  });

  it("call: a unary echo, and a stream whose uint64 sequence numbers print as JSON strings", async () => {
    const echo = await runProtosocket([
      "call",
      target,
      "interop.v1.InteropService/Echo",
      ...interopSchema,
      "-d",
      '{"message":"from the cli","payload":"AAEC"}',
    ]);
    expect(echo.code, echo.stderr).toBe(0);
    expect(JSON.parse(echo.stdout)).toEqual({ message: "from the cli", payload: "AAEC" });
    const stream = await runProtosocket(["call", target, "interop.v1.InteropService/Stream", ...interopSchema, "-d", '{"count":4}']);
    expect(stream.code, stream.stderr).toBe(0);
    expect(jsonLines(stream.stdout)).toEqual([{}, { sequence: "1" }, { sequence: "2" }, { sequence: "3" }]);
  });

  it("call: the Rust error case exits 64 + its code; a Rust Cancel exits 64 + cancelled", async () => {
    const fail = await runProtosocket([
      "call",
      target,
      "interop.v1.InteropService/Fail",
      ...interopSchema,
      "-d",
      '{"code":7,"message":"rust says no"}',
    ]);
    expect(fail.code).toBe(64 + 7);
    expect(fail.stderr).toContain("permission_denied (code 7): rust says no");
    const detailed = await runProtosocket([
      "call",
      target,
      "interop.v1.InteropService/Fail",
      ...interopSchema,
      "-d",
      '{"code":3,"message":"with details","withDetails":true}',
    ]);
    expect(detailed.code).toBe(64 + 3);
    // The detail is an Any holding an interop.v1.EchoResponse: printed as JSON because the schema knows the type.
    const detail = /^ {2}detail (.*)$/m.exec(detailed.stderr)?.[1];
    expect(JSON.parse(detail ?? "null")).toEqual({ "@type": "type.googleapis.com/interop.v1.EchoResponse", message: "detail" });
    const reject = await runProtosocket(["call", target, "interop.v1.InteropService/Reject", ...interopSchema]);
    expect(reject.code).toBe(64 + 1);
    expect(reject.stderr).toContain("cancelled");
  });

  it("Ctrl-C during a stream: the Rust handler is dropped (its cancelled_handlers counter moves) and the CLI exits 130", async () => {
    const before = Number((await stats()).cancelledHandlers ?? "0");
    const cli = startProtosocket([
      "call",
      target,
      "interop.v1.InteropService/Stream",
      ...interopSchema,
      "-d",
      '{"count":1000,"itemDelayMs":50}',
    ]);
    const deadline = Date.now() + 10_000;
    // The handler is running once the first item is printed.
    while (!cli.stdout().includes("\n") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    cli.child.kill("SIGINT");
    const run = await cli.done;
    expect(run.code).toBe(130);
    expect(jsonLines(run.stdout).length).toBeLessThan(1000);
    let after = before;
    while (after === before && Date.now() < deadline) after = Number((await stats()).cancelledHandlers ?? "0");
    expect(after).toBe(before + 1);
  });

  it("-H is refused for the Rust envelopes, which bind no metadata field (exit 2, nothing sent)", async () => {
    const run = await runProtosocket([
      "call",
      target,
      "interop.v1.InteropService/Echo",
      ...interopSchema,
      "-d",
      "{}",
      "-H",
      "authorization: Bearer x",
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("interop.v1.Request has no metadata field, so the call cannot carry metadata");
  });

  it("health: the interop schema has no health service (exit 3)", async () => {
    const run = await runProtosocket(["health", target, ...interopSchema]);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain("no health service");
  });

  it("bench: -n calls against the Rust server, all ok, JSON summary", async () => {
    const run = await runProtosocket([
      "bench",
      target,
      "interop.v1.InteropService/Echo",
      ...interopSchema,
      "-d",
      '{"message":"x"}',
      "-c",
      "16",
      "--connections",
      "2",
      "-n",
      "400",
      "--json",
    ]);
    expect(run.code, run.stderr).toBe(0);
    const s = JSON.parse(run.stdout) as BenchSummary;
    expect(s.calls).toEqual({ ok: 400, failed: 0 });
    expect(s.histogram.buckets.reduce((n, b) => n + b.count, 0)).toBe(400);
  });
});
