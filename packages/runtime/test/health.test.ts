import { afterEach, describe, expect, it } from "vitest";
import {
  Code,
  connect,
  createClient,
  createServer,
  healthDefinition,
  registerHealth,
  type RpcError,
  ServingStatus,
  type ConnectionTransport,
  type Server,
} from "../src/index.js";
import { BindingError } from "../src/protocol.js";
import { echoImpl } from "./support/echo-server.js";
import { until } from "./support/reliability.js";
import { echoDef, interopDef } from "./support/services.js";

describe("health checks", () => {
  let server: Server | undefined;
  let transport: ConnectionTransport | undefined;
  afterEach(async () => {
    transport?.close();
    await server?.close({ graceMs: 0 });
  });

  async function start() {
    server = createServer();
    server.register(echoDef, echoImpl({ aborted: 0, streamsFinished: 0, yielded: 0 }));
    const reporter = registerHealth(server);
    const { port } = await server.listen();
    transport = await connect({ port });
    return { reporter, health: createClient(healthDefinition(echoDef), transport) };
  }

  it("answers Check for the server and each registered service, not_found for others", async () => {
    const { health } = await start();
    expect((await health.check({ service: "" })).status).toBe(ServingStatus.SERVING);
    expect((await health.check({ service: "echo.v1.EchoService" })).status).toBe(ServingStatus.SERVING);
    const err = await health.check({ service: "nope.v1.Nope" }).catch((e: unknown) => e);
    expect((err as RpcError).code).toBe(Code.NotFound);
  });

  it("streams every change to Watch, and NOT_SERVING once graceful shutdown begins", async () => {
    const { reporter, health } = await start();
    const seen: ServingStatus[] = [];
    const unknown: ServingStatus[] = [];
    const watching = (async () => {
      for await (const r of health.watch({ service: "echo.v1.EchoService" })) seen.push(r.status);
    })().catch(() => undefined);
    const watchingUnknown = (async () => {
      for await (const r of health.watch({ service: "later.v1.Later" })) unknown.push(r.status);
    })().catch(() => undefined);
    await until(() => seen.length === 1 && unknown.length === 1, "the first statuses");
    reporter.setStatus("echo.v1.EchoService", ServingStatus.NOT_SERVING);
    reporter.setStatus("echo.v1.EchoService", ServingStatus.SERVING);
    reporter.setStatus("later.v1.Later", ServingStatus.SERVING);
    await until(
      () => seen.length === 3 && unknown.length === 2,
      () => `the changes (${seen}, ${unknown})`,
    );
    const closing = (server as Server).close({ graceMs: 200 });
    await until(() => seen.length === 4, "NOT_SERVING at shutdown");
    expect(seen).toEqual([ServingStatus.SERVING, ServingStatus.NOT_SERVING, ServingStatus.SERVING, ServingStatus.NOT_SERVING]);
    expect(unknown.slice(0, 2)).toEqual([ServingStatus.SERVICE_UNKNOWN, ServingStatus.SERVING]);
    expect(reporter.status("")).toBe(ServingStatus.NOT_SERVING);
    await closing;
    await Promise.all([watching, watchingUnknown]);
  });

  it("says which cases to add when the envelopes have no health cases", () => {
    expect(() => healthDefinition(interopDef)).toThrow(BindingError);
    expect(() => healthDefinition(interopDef)).toThrow(
      /add "protosocket\.v1\.HealthCheckRequest health_check = N;" to the oneof of interop\.v1\.Request/,
    );
    const s = createServer();
    expect(() => registerHealth(s)).toThrow(/register the server's services before registerHealth/);
  });
});
