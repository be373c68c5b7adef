/**
 * The command line against live servers with no .proto and no image: from an
 * empty directory, the schema comes from the server by reflection — the echo
 * example (bound envelopes; it enables reflection) and a server of gRPC-style
 * services on the standard envelope. Also: the standard envelope from
 * `--proto` with no reflection, and servers that do not serve reflection.
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RouteGuideService, RouteStatsService } from "@protosocket/gen/routeguide/v1/route_guide_pb.js";
import { createServer, defineStandardService, registerHealth, registerReflection, type Server } from "@protosocket/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BenchSummary, HealthResult, MethodDetail, ServiceDescription } from "../src/index.js";
import { jsonLines, repoRoot, runProtosocket } from "./support/cli.js";
import { startEchoServer, startFixtureServer, type FixtureObservations, type ServerProcess } from "./support/servers.js";

/** A directory with nothing in it: no .proto, no image, no buf.yaml. */
let empty: string;
const inEmpty = (args: string[]) => runProtosocket(args, { cwd: empty });

beforeAll(() => {
  empty = mkdtempSync(join(tmpdir(), "protosocket-cli-empty-"));
});
afterAll(() => {
  rmSync(empty, { recursive: true, force: true });
});

describe("a session against the echo example (bound envelopes, reflection enabled), from an empty directory", () => {
  let echo: ServerProcess;
  let target: string;
  beforeAll(async () => {
    echo = await startEchoServer();
    target = `127.0.0.1:${echo.port}`;
  });
  afterAll(async () => {
    await echo?.stop();
  });

  it("lists, describes, calls and checks health with no schema of its own", async () => {
    const list = await inEmpty(["list", target]);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout.trim().split("\n")).toEqual(["echo.v1.EchoService", "protosocket.v1.Health", "protosocket.v1.ServerReflection"]);

    const methods = await inEmpty(["list", target, "EchoService"]);
    expect(
      methods.stdout
        .trim()
        .split("\n")
        .map((l) => l.split(/\s+/)[0]),
    ).toEqual(["echo.v1.EchoService/Echo", "echo.v1.EchoService/Count", "echo.v1.EchoService/Fail"]);

    const described = await inEmpty(["describe", target, "echo.v1.EchoService", "--json"]);
    expect(described.code, described.stderr).toBe(0);
    const service = JSON.parse(described.stdout) as ServiceDescription;
    expect(service.envelopes?.request.type).toBe("echo.v1.EchoRequestEnvelope");
    expect(service.methods.find((m) => m.name === "Count")?.requestCase).toEqual({
      path: "count",
      numbers: [4],
      type: "echo.v1.CountRequest",
    });

    const method = await inEmpty(["describe", target, "echo.v1.EchoService/Echo", "--json"]);
    expect((JSON.parse(method.stdout) as MethodDetail).inputType.fields.map((f) => f.name)).toContain("message");

    const unary = await inEmpty(["call", target, "echo.v1.EchoService/Echo", "-d", '{"message":"reflected"}']);
    expect(unary.code, unary.stderr).toBe(0);
    expect(JSON.parse(unary.stdout)).toMatchObject({ message: "reflected" });

    const stream = await inEmpty(["call", target, "EchoService/Count", "-d", '{"count":3}']);
    expect(jsonLines(stream.stdout)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);

    const failed = await inEmpty(["call", target, "EchoService/Fail", "-d", '{"code":5,"message":"nothing here"}']);
    expect(failed.code).toBe(69);
    expect(failed.stderr).toContain("not_found (code 5): nothing here");

    const health = await inEmpty(["health", target, "echo.v1.EchoService", "--json"]);
    expect(health.code, health.stderr).toBe(0);
    expect((JSON.parse(health.stdout) as HealthResult).status).toBe("SERVING");
    // Nothing was written where the session ran.
    expect(readdirSync(empty)).toEqual([]);
  });
});

describe("a server of gRPC-style services on the standard envelope", () => {
  let server: Server;
  let bare: Server;
  let target: string;
  let bareTarget: string;
  const routeDef = defineStandardService(RouteGuideService);
  const statsDef = defineStandardService(RouteStatsService);
  const routeImpl = {
    getFeature(p: { latitude: number; longitude: number }, ctx: { metadata: ReadonlyMap<string, string>; trailers: Map<string, string> }) {
      ctx.trailers.set("asked-by", ctx.metadata.get("user") ?? "nobody");
      return { name: `at ${p.latitude},${p.longitude}`, location: p };
    },
    async *listFeatures(r: { lo?: { latitude: number }; hi?: { latitude: number } }) {
      for (let i = r.lo?.latitude ?? 0; i <= (r.hi?.latitude ?? 0); i++) yield { name: `f${i}` };
    },
  };
  beforeAll(async () => {
    server = createServer();
    server.registerPartial(routeDef, routeImpl as never);
    server.register(statsDef, { getStats: () => ({ calls: 9n }) });
    registerHealth(server);
    registerReflection(server);
    target = `127.0.0.1:${(await server.listen()).port}`;
    // The same services with health checks and no reflection.
    bare = createServer();
    bare.registerPartial(routeDef, routeImpl as never);
    registerHealth(bare);
    bareTarget = `127.0.0.1:${(await bare.listen()).port}`;
  });
  afterAll(async () => {
    await server?.close({ graceMs: 0 });
    await bare?.close({ graceMs: 0 });
  });

  it("by reflection, from an empty directory: list, describe, call (metadata and trailers), stream, health, bench", async () => {
    const list = await inEmpty(["list", target, "--json"]);
    expect(list.code, list.stderr).toBe(0);
    const services = JSON.parse(list.stdout) as ServiceDescription[];
    expect(services.map((s) => [s.name, s.standard === true])).toEqual([
      ["protosocket.v1.Health", true],
      ["protosocket.v1.ServerReflection", true],
      ["routeguide.v1.RouteGuideService", true],
      ["routeguide.v1.RouteStatsService", true],
    ]);
    const described = await inEmpty(["describe", target, "routeguide.v1.RouteGuideService"]);
    expect(described.stdout).toContain("standard envelope  protosocket.v1.Request / protosocket.v1.Response");
    expect(described.stdout).toContain("rpc RecordRoute(stream routeguide.v1.Point) returns (routeguide.v1.RouteSummary)");

    const unary = await inEmpty(["call", target, "RouteGuideService/GetFeature", "-d", '{"latitude":5,"longitude":6}', "-H", "user: ada"]);
    expect(unary.code, unary.stderr).toBe(0);
    expect(JSON.parse(unary.stdout)).toEqual({ name: "at 5,6", location: { latitude: 5, longitude: 6 } });
    expect(unary.stderr).toContain("trailer asked-by: ada");

    const stream = await inEmpty([
      "call",
      target,
      "routeguide.v1.RouteGuideService/ListFeatures",
      "-d",
      '{"lo":{"latitude":1},"hi":{"latitude":3}}',
    ]);
    expect(jsonLines(stream.stdout)).toEqual([{ name: "f1" }, { name: "f2" }, { name: "f3" }]);

    const stats = await inEmpty(["call", target, "RouteStatsService/GetStats"]);
    expect(JSON.parse(stats.stdout)).toEqual({ calls: "9" });

    const health = await inEmpty(["health", target]);
    expect(health.code, health.stderr).toBe(0);
    expect(health.stdout.trim()).toBe("SERVING");

    const bench = await inEmpty([
      "bench",
      target,
      "RouteGuideService/GetFeature",
      "-d",
      '{"latitude":1}',
      "-n",
      "200",
      "-c",
      "8",
      "--json",
    ]);
    expect(bench.code, bench.stderr).toBe(0);
    const summary = JSON.parse(bench.stdout) as BenchSummary;
    expect(summary.calls.ok).toBe(200);
  });

  it("from --proto, with no reflection: calls and health checks (the runtime's protosocket.v1.Health)", async () => {
    const proto = ["--proto", join(repoRoot, "proto/routeguide/v1/route_guide.proto")];
    const unary = await runProtosocket(["call", bareTarget, "RouteGuideService/GetFeature", ...proto, "-d", '{"latitude":2}']);
    expect(unary.code, unary.stderr).toBe(0);
    expect(JSON.parse(unary.stdout)).toMatchObject({ name: "at 2,0" });
    const health = await runProtosocket(["health", bareTarget, ...proto, "--json"]);
    expect(health.code, health.stderr).toBe(0);
    expect(JSON.parse(health.stdout) as HealthResult).toMatchObject({ status: "SERVING", checkedWith: "protosocket.v1.Health/Check" });
  });

  it("a server that does not serve reflection: exit 3, saying how to enable it or what to give instead", async () => {
    const list = await inEmpty(["list", bareTarget]);
    expect(list.code).toBe(3);
    expect(list.stderr).toContain(`${bareTarget} does not serve reflection (unimplemented`);
    expect(list.stderr).toContain("registerReflection(server)");
    expect(list.stderr).toContain("--proto");
  });
});

describe("a server of bound envelopes that does not serve reflection", () => {
  let fixture: { server: Server; port: number; seen: FixtureObservations };
  beforeAll(async () => {
    fixture = await startFixtureServer();
  });
  afterAll(async () => {
    await fixture?.server.close({ graceMs: 0 });
  });

  it("refuses the probing request (it runs nothing): exit 3", async () => {
    const target = `127.0.0.1:${fixture.port}`;
    const call = await inEmpty(["call", target, "clitest.v1.ShapesService/Wait", "-d", '{"label":"x"}']);
    expect(call.code).toBe(3);
    expect(call.stderr).toContain(`${target} does not serve reflection`);
    expect(fixture.seen.waitsStarted).toBe(0);
  });
});

describe("without an address", () => {
  it("list with no schema names the three ways to give one", async () => {
    const list = await inEmpty(["list"]);
    expect(list.code).toBe(2);
    expect(list.stderr).toContain("--proto");
    expect(list.stderr).toContain("--image");
    expect(list.stderr).toContain("protosocket list host:port");
  });
});
