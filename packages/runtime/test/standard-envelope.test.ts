/**
 * A gRPC-style .proto with no envelope (proto/routeguide), generated with
 * default_envelope=standard, served and called over the standard envelope:
 * every kind of method, two services on one listener, metadata, trailers,
 * deadlines, error details, interceptors, health, pools and the memory
 * transport, over TCP and in memory.
 */
import { create } from "@bufbuild/protobuf";
import {
  type Feature,
  type Point,
  RouteGuideService,
  RouteStatsService,
  type RouteNote,
} from "@protosocket/gen/routeguide/v1/route_guide_pb.js";
import { RetryInfoSchema } from "../src/gen/google/rpc/error_details_pb.js";
import { afterEach, describe, expect, it } from "vitest";
import {
  Code,
  connect,
  createClient,
  createMemoryTransport,
  createPool,
  createServer,
  defineStandardService,
  healthDefinition,
  registerHealth,
  RpcError,
  ServingStatus,
  type HandlerContext,
  type Interceptor,
  type Server,
  type ServerInterceptor,
  type ServiceImpl,
  type Transport,
} from "../src/index.js";
import { codecsOf, encodingOf } from "../src/protocol.js";
import { until } from "./support/reliability.js";
import { echoDef } from "./support/services.js";

const routeDef = defineStandardService(RouteGuideService);
const statsDef = defineStandardService(RouteStatsService);

/** Feature names by "lat,lng". */
const features = new Map<string, string>([
  ["1,1", "one"],
  ["2,2", "two"],
  ["3,3", "three"],
]);
const key = (p: Point | undefined) => `${p?.latitude ?? 0},${p?.longitude ?? 0}`;

interface Seen {
  method: string;
  metadata: Record<string, string>;
  timeoutMs: number | undefined;
}

function routeImpl(seen: Seen[]): ServiceImpl<typeof RouteGuideService> {
  const record = (ctx: HandlerContext) =>
    seen.push({ method: ctx.method, metadata: Object.fromEntries(ctx.metadata), timeoutMs: ctx.timeoutMs() });
  return {
    getFeature(point, ctx) {
      record(ctx);
      ctx.trailers.set("looked-up", key(point));
      const name = features.get(key(point));
      if (name === undefined) {
        throw new RpcError(Code.NotFound, `no feature at ${key(point)}`, [
          { desc: RetryInfoSchema, value: { retryDelay: { seconds: 3n } } },
        ]);
      }
      return { name, location: point };
    },
    async *listFeatures(rect, ctx) {
      record(ctx);
      const lo = rect.lo?.latitude ?? 0;
      const hi = rect.hi?.latitude ?? 0;
      let n = 0;
      for (let lat = lo; lat <= hi; lat++) {
        const name = features.get(`${lat},${lat}`);
        if (name === undefined) continue;
        n++;
        yield { name, location: { latitude: lat, longitude: lat } };
      }
      ctx.trailers.set("features", String(n));
    },
    async recordRoute(points, ctx) {
      record(ctx);
      let pointCount = 0;
      let featureCount = 0;
      for await (const p of points) {
        pointCount++;
        if (features.has(key(p))) featureCount++;
      }
      return { pointCount, featureCount };
    },
    async *routeChat(notes, ctx) {
      record(ctx);
      const left = new Map<string, RouteNote[]>();
      for await (const note of notes) {
        const at = left.get(key(note.location)) ?? [];
        for (const earlier of at) yield earlier;
        at.push(note);
        left.set(key(note.location), at);
      }
    },
  };
}

const statsImpl: ServiceImpl<typeof RouteStatsService> = {
  getStats: () => ({ calls: 7n, byMethod: { GetFeature: 3n } }),
};

async function* points(...ps: [number, number][]) {
  for (const [latitude, longitude] of ps) yield { latitude, longitude };
}

describe.each(["tcp", "memory"] as const)("the standard envelope over %s", (over) => {
  let server: Server | undefined;
  let transport: Transport | undefined;
  afterEach(async () => {
    transport?.close();
    await server?.close({ graceMs: 0 });
    server = undefined;
    transport = undefined;
  });

  async function start(options: { client?: Interceptor[]; server?: ServerInterceptor[] } = {}) {
    const seen: Seen[] = [];
    server = createServer({ interceptors: options.server ?? [] });
    server.register(routeDef, routeImpl(seen));
    server.register(statsDef, statsImpl);
    if (over === "tcp") {
      const { port } = await server.listen();
      transport = await connect({ port, interceptors: options.client ?? [] });
    } else {
      transport = createMemoryTransport(server, { interceptors: options.client ?? [] });
    }
    return { seen, route: createClient(routeDef, transport), stats: createClient(statsDef, transport) };
  }

  it("calls every kind of method, and two services on one listener and one connection", async () => {
    const { route, stats } = await start();
    expect(await route.getFeature({ latitude: 2, longitude: 2 })).toMatchObject({ name: "two", location: { latitude: 2, longitude: 2 } });
    const listed: Feature[] = [];
    for await (const f of route.listFeatures({ lo: { latitude: 0 }, hi: { latitude: 5 } })) listed.push(f);
    expect(listed.map((f) => f.name)).toEqual(["one", "two", "three"]);
    expect(await route.recordRoute(points([1, 1], [5, 5], [3, 3]))).toMatchObject({ pointCount: 3, featureCount: 2 });
    const notes = (async function* () {
      yield { location: { latitude: 9, longitude: 9 }, message: "first" };
      yield { location: { latitude: 9, longitude: 9 }, message: "second" };
      yield { location: { latitude: 9, longitude: 9 }, message: "third" };
    })();
    const heard: string[] = [];
    for await (const n of route.routeChat(notes)) heard.push(n.message);
    expect(heard).toEqual(["first", "first", "second"]);
    const s = await stats.getStats({});
    expect(s.calls).toBe(7n);
    expect(s.byMethod).toEqual({ GetFeature: 3n });
  });

  it("sends an empty message (every field at its default) and gets one back", async () => {
    server = createServer();
    server.register(routeDef, { ...routeImpl([]), getFeature: (p) => ({ name: p.latitude === 0 ? "" : "?" }) });
    if (over === "tcp") transport = await connect({ port: (await server.listen()).port });
    else transport = createMemoryTransport(server);
    const f = await createClient(routeDef, transport).getFeature({});
    expect(f.name).toBe("");
    expect(f.location).toBeUndefined();
  });

  it("carries metadata and the deadline to the server, and trailers back", async () => {
    const { route, seen } = await start();
    const trailers: Record<string, string>[] = [];
    await route.getFeature(
      { latitude: 1, longitude: 1 },
      { metadata: { authorization: "Bearer t" }, timeoutMs: 30_000, onTrailer: (t) => trailers.push(Object.fromEntries(t)) },
    );
    const listed: Feature[] = [];
    for await (const f of route.listFeatures(
      { lo: { latitude: 1 }, hi: { latitude: 2 } },
      { onTrailer: (t) => trailers.push(Object.fromEntries(t)) },
    ))
      listed.push(f);
    expect(seen[0]?.method).toBe("routeguide.v1.RouteGuideService/GetFeature");
    expect(seen[0]?.metadata).toEqual({ authorization: "Bearer t" });
    expect(seen[0]?.timeoutMs).toBeGreaterThan(20_000);
    expect(seen[0]?.timeoutMs).toBeLessThanOrEqual(30_000);
    expect(seen[1]?.timeoutMs).toBeUndefined();
    expect(trailers).toEqual([{ "looked-up": "1,1" }, { features: "2" }]);
  });

  it("refuses a request whose metadata goes past the server's limits, without running it", async () => {
    const { route, seen } = await start();
    const metadata = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`k${i}`, "v"]));
    const err = (await route.getFeature({ latitude: 1, longitude: 1 }, { metadata }).catch((e: unknown) => e)) as RpcError;
    expect(err.code).toBe(Code.ResourceExhausted);
    expect(err.rawMessage).toContain("maxMetadataEntries");
    expect(seen).toEqual([]);
  });

  it("fails with the handler's code, message, details and trailers", async () => {
    const { route } = await start();
    const err = (await route.getFeature({ latitude: 4, longitude: 4 }).catch((e: unknown) => e)) as RpcError;
    expect(err).toBeInstanceOf(RpcError);
    expect(err.code).toBe(Code.NotFound);
    expect(err.rawMessage).toBe("no feature at 4,4");
    expect(err.findDetails(RetryInfoSchema)[0]?.retryDelay?.seconds).toBe(3n);
    expect(Object.fromEntries(err.metadata)).toEqual({ "looked-up": "4,4" });
  });

  it("times out a call: deadline_exceeded on the client, the handler's signal aborts", async () => {
    const aborted: unknown[] = [];
    server = createServer();
    server.register(routeDef, {
      ...routeImpl([]),
      async getFeature(_p, ctx) {
        await new Promise<void>((resolve) =>
          ctx.signal.addEventListener(
            "abort",
            () => {
              aborted.push(ctx.signal.reason);
              resolve();
            },
            { once: true },
          ),
        );
        return {};
      },
    });
    if (over === "tcp") transport = await connect({ port: (await server.listen()).port });
    else transport = createMemoryTransport(server);
    const err = (await createClient(routeDef, transport)
      .getFeature({}, { timeoutMs: 50 })
      .catch((e: unknown) => e)) as RpcError;
    expect(err.code).toBe(Code.DeadlineExceeded);
    await until(() => aborted.length === 1, "the handler's signal to abort");
  });

  it("runs interceptors on both sides, which see the method and the messages", async () => {
    const log: string[] = [];
    const client: Interceptor = (next) => async (req) => {
      log.push(`client ${req.methodName}`);
      req.metadata.set("via", "interceptor");
      return next(req);
    };
    const serverSide: ServerInterceptor = (next) => async (req) => {
      log.push(`server ${req.methodName} ${req.metadata.get("via")}`);
      return next(req);
    };
    const { route } = await start({ client: [client], server: [serverSide] });
    await route.getFeature({ latitude: 1, longitude: 1 });
    expect(await route.recordRoute(points([2, 2]))).toMatchObject({ pointCount: 1, featureCount: 1 });
    expect(log).toEqual([
      "client routeguide.v1.RouteGuideService/GetFeature",
      "server routeguide.v1.RouteGuideService/GetFeature interceptor",
      "client routeguide.v1.RouteGuideService/RecordRoute",
      "server routeguide.v1.RouteGuideService/RecordRoute interceptor",
    ]);
  });

  it("answers a method the server does not serve with unimplemented", async () => {
    server = createServer();
    server.register(statsDef, statsImpl);
    if (over === "tcp") transport = await connect({ port: (await server.listen()).port });
    else transport = createMemoryTransport(server);
    const err = (await createClient(routeDef, transport)
      .getFeature({})
      .catch((e: unknown) => e)) as RpcError;
    expect(err.code).toBe(Code.Unimplemented);
    expect(await createClient(statsDef, transport).getStats({})).toMatchObject({ calls: 7n });
  });

  it("serves health checks through the standard envelope", async () => {
    server = createServer();
    server.register(routeDef, routeImpl([]));
    const health = registerHealth(server);
    if (over === "tcp") transport = await connect({ port: (await server.listen()).port });
    else transport = createMemoryTransport(server);
    const checks = createClient(healthDefinition(routeDef), transport);
    expect((await checks.check({ service: "" })).status).toBe(ServingStatus.SERVING);
    health.setStatus("routeguide.v1.RouteGuideService", ServingStatus.NOT_SERVING);
    expect((await checks.check({ service: "routeguide.v1.RouteGuideService" })).status).toBe(ServingStatus.NOT_SERVING);
    const err = (await checks.check({ service: "nope" }).catch((e: unknown) => e)) as RpcError;
    expect(err.code).toBe(Code.NotFound);
    // The same health service whichever standard service it is asked through.
    expect(healthDefinition(statsDef)).toBe(healthDefinition(routeDef));
  });
});

describe("the standard envelope's definitions", () => {
  it("refuse a service bound to envelopes of its own on the same server, naming both", () => {
    const server = createServer();
    server.register(routeDef, routeImpl([]));
    expect(() => server.registerPartial(echoDef, {})).toThrow(
      /echo\.v1\.EchoService is encoded with protobuf.*routeguide\.v1\.RouteGuideService/,
    );
  });

  it("refuse one method twice among the services of one listener (two descriptors of one service)", () => {
    const clone = defineStandardService({ ...RouteGuideService } as typeof RouteGuideService);
    expect(clone).not.toBe(routeDef);
    expect(() => encodingOf(routeDef).createCodecs([routeDef, statsDef, clone])).toThrow(
      "routeguide.v1.RouteGuideService/GetFeature is defined twice; a server (or connection) carries each method once",
    );
  });

  it("build codecs once per definition and route by method name", () => {
    const codecs = codecsOf(routeDef);
    expect(codecs.methods.map((m) => m.fullName)).toEqual([
      "routeguide.v1.RouteGuideService/GetFeature",
      "routeguide.v1.RouteGuideService/ListFeatures",
      "routeguide.v1.RouteGuideService/RecordRoute",
      "routeguide.v1.RouteGuideService/RouteChat",
    ]);
    expect(codecsOf(routeDef)).toBe(codecs);
    const method = codecs.methods[0];
    if (method === undefined) throw new Error("no method");
    const frame = codecs.request.encode(5, 0, method.request, create(RouteGuideService.method.getFeature.input, { latitude: 1 }));
    const inbound = codecs.request.decode(frame);
    expect(inbound.id).toBe(5);
    expect(codecs.route(inbound.carried as never)).toBe(method);
  });
});

describe("the standard envelope through a pool", () => {
  it("spreads calls of two services over the servers of a target", async () => {
    const servers: Server[] = [];
    const ports: number[] = [];
    for (let i = 0; i < 2; i++) {
      const s = createServer();
      s.register(routeDef, routeImpl([]));
      s.register(statsDef, statsImpl);
      servers.push(s);
      ports.push((await s.listen()).port);
    }
    const pool = createPool(ports.map((p) => `127.0.0.1:${p}`));
    try {
      const route = createClient(routeDef, pool);
      const stats = createClient(statsDef, pool);
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) => route.getFeature({ latitude: (i % 3) + 1, longitude: (i % 3) + 1 })),
      );
      expect(new Set(results.map((f) => f.name))).toEqual(new Set(["one", "two", "three"]));
      expect((await stats.getStats({})).calls).toBe(7n);
      expect(pool.stats.picks).toBeGreaterThanOrEqual(41);
    } finally {
      pool.close();
      await Promise.all(servers.map((s) => s.close({ graceMs: 0 })));
    }
  });
});
