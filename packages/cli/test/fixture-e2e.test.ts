/**
 * health, Ctrl-C and JSON input errors against an in-process server of the
 * fixture schema (test/fixtures/proto/clitest/v1), bound from descriptors
 * alone; the CLI runs as a real process where exit codes and signals matter.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Server } from "@protosocket/runtime";
import type { HealthResult } from "../src/index.js";
import { fixtureSchema, runInProcess, runProtosocket, startProtosocket } from "./support/cli.js";
import { startFixtureServer, type FixtureObservations } from "./support/servers.js";

let server: Server;
let seen: FixtureObservations;
let target: string;

beforeAll(async () => {
  const started = await startFixtureServer();
  server = started.server;
  seen = started.seen;
  target = `127.0.0.1:${started.port}`;
});

afterAll(async () => {
  await server?.close({ graceMs: 0 });
});

/** Polls until `check` holds; throws naming `what` after 10 s. */
async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("health (grpc.health.v1 semantics)", () => {
  it("SERVING exits 0; NOT_SERVING exits 5; a service the server does not know exits 64 + not_found", async () => {
    seen.health.set("", 1);
    seen.health.set("clitest.v1.ShapesService", 2);
    const server = await runProtosocket(["health", target, ...fixtureSchema]);
    expect(server.code, server.stderr).toBe(0);
    expect(server.stdout.trim()).toBe("SERVING");
    const notServing = await runProtosocket(["health", target, "clitest.v1.ShapesService", ...fixtureSchema, "--json"]);
    expect(notServing.code, notServing.stderr).toBe(5);
    expect(JSON.parse(notServing.stdout) as HealthResult).toEqual({
      service: "clitest.v1.ShapesService",
      status: "NOT_SERVING",
      statusNumber: 2,
      serving: false,
      checkedWith: "clitest.v1.Health/Check",
    });
    const unknown = await runProtosocket(["health", target, "nope.v1.Nothing", ...fixtureSchema]);
    expect(unknown.code).toBe(64 + 5);
    expect(unknown.stderr).toContain("not_found");
  });

  it("--health-service naming a service without a Check method is a usage error", async () => {
    const run = await runInProcess(["health", target, ...fixtureSchema, "--health-service", "clitest.v1.ShapesService"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("has no health check");
  });
});

describe("Ctrl-C sends Cancel", () => {
  it("a unary call: the server's handler sees the client's Cancel (not a dropped connection) and the CLI exits 130", async () => {
    const before = seen.waitsStarted;
    const reasons = seen.abortReasons.length;
    const cli = startProtosocket(["call", target, "clitest.v1.ShapesService/Wait", ...fixtureSchema, "-d", '{"label":"unary"}']);
    await until(() => seen.waitsStarted > before, "the Wait handler to start");
    cli.child.kill("SIGINT");
    const run = await cli.done;
    expect(run.code).toBe(130);
    expect(run.stderr).toContain("cancelled (Cancel sent");
    await until(
      () => seen.abortReasons.length > reasons,
      "the handler's signal to abort (a client that closes without Cancel leaves it running: the server answers half-closed clients)",
    );
    expect(seen.abortReasons[reasons]).toContain("call cancelled by the client");
  });

  it("a stream: messages already received are printed, then the Cancel reaches the handler", async () => {
    const reasons = seen.abortReasons.length;
    const cli = startProtosocket(["call", target, "clitest.v1.ShapesService/Watch", ...fixtureSchema, "-d", '{"label":"stream"}']);
    await until(() => cli.stdout().includes("\n"), "the first streamed message");
    cli.child.kill("SIGINT");
    const run = await cli.done;
    expect(run.code).toBe(130);
    expect(JSON.parse(run.stdout)).toEqual({ label: "stream" });
    await until(
      () => seen.abortReasons.length > reasons,
      "the handler's signal to abort (a client that closes without Cancel leaves it running: the server answers half-closed clients)",
    );
    expect(seen.abortReasons[reasons]).toContain("call cancelled by the client");
  });
});

describe("JSON input errors name the field path", () => {
  const put = (json: string) => runInProcess(["call", target, "clitest.v1.ShapesService/Put", ...fixtureSchema, "-d", json]);

  it.each([
    ['{"items":[{"name":"a"},{"tags":[{"weight":"heavy"}]}]}', "field items[1].tags[0].weight:"],
    ['{"byName":{"k":{"nmae":"x"}}}', 'field byName["k"].nmae: clitest.v1.Item has no field "nmae"; did you mean "name"?'],
    ['{"counts":{"a":1,"b":"x"}}', 'field counts["b"]:'],
    ['{"numbers":[1,2,"three"]}', "field numbers[2]:"],
    ['{"at":"yesterday"}', "field at:"],
    ['{"kind":"KIND_HUGE"}', "field kind:"],
    ['{"item":{"id":-1}}', "field item.id:"],
    ['{"item":{"tags":{"key":"x"}}}', "field item.tags:"],
    ['{"item":[]}', "field item: expected a JSON object (clitest.v1.Item), got an array"],
    ["[1]", "not a valid clitest.v1.PutRequest: expected a JSON object (clitest.v1.PutRequest), got an array"],
  ])("%s", async (json, expected) => {
    const run = await put(json);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("not a valid clitest.v1.PutRequest");
    expect(run.stderr).toContain(expected);
  });

  it("a valid request with every kind of field goes through (64-bit ints as strings, Timestamp as RFC 3339, enums by name)", async () => {
    const run = await put(
      '{"item":{"name":"a","id":"18446744073709551615","tags":[{"key":"k","weight":3}]},"items":[{},{}],"byName":{"x":{}},"counts":{"c":1},"numbers":[1,2],"at":"2026-11-26T10:00:00Z","kind":"KIND_LARGE","number":"-5","note":""}',
    );
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ items: 2 });
  });

  it("--allow-unknown-fields skips fields the message does not have", async () => {
    const run = await runInProcess([
      "call",
      target,
      "clitest.v1.ShapesService/Put",
      ...fixtureSchema,
      "-d",
      '{"items":[{"extra":1}],"other":2}',
      "--allow-unknown-fields",
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ items: 1 });
  });
});

describe("bench progress line", () => {
  it("is drawn on stderr in place when it is a terminal, and removed before the report", async () => {
    const run = await runInProcess(
      ["bench", target, "clitest.v1.ShapesService/Put", ...fixtureSchema, "-d", "{}", "-c", "4", "--duration", "1s"],
      { tty: true },
    );
    expect(run.code, run.stderr).toBe(0);
    // A progress line: carriage return and "erase line" (ESC [ K) before each update.
    const clearLine = `\r${String.fromCharCode(27)}[K`;
    expect(run.stderr.startsWith(clearLine)).toBe(true);
    expect(run.stderr).toMatch(/ ok .* calls\/s .* in flight/);
    expect(run.stderr.endsWith("\r\x1b[K")).toBe(true);
    expect(run.stdout).toContain("Calls/s:");
  });
});

describe("a service without an envelope option", () => {
  it("is called through the standard envelope; list and describe say so", async () => {
    const list = await runInProcess(["list", ...fixtureSchema, "--json"]);
    const services = JSON.parse(list.stdout) as { name: string; bound: boolean; standard?: boolean }[];
    expect(services.map((s) => [s.name, s.bound, s.standard === true])).toEqual([
      ["clitest.v1.Health", true, false],
      ["clitest.v1.ShapesService", true, false],
      ["clitest.v1.UnboundService", true, true],
    ]);
    const describe = await runInProcess(["describe", "clitest.v1.UnboundService", ...fixtureSchema]);
    expect(describe.code, describe.stderr).toBe(0);
    expect(describe.stdout).toContain("standard envelope  protosocket.v1.Request / protosocket.v1.Response");
  });
});
