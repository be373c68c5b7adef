/**
 * The routeguide.v1 services (proto/routeguide, a gRPC-style .proto with no
 * envelope) on the standard envelope, implemented on @protosocket/runtime the
 * way the Rust `std-interop-server` answers them (interop/rust/src/standard.rs),
 * so the Rust `std-interop-client` scenarios pass against either.
 */
import { create } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { PointSchema } from "@protosocket/gen/routeguide/v1/route_guide_pb.js";
import {
  RouteGuideServiceDefinition,
  RouteStatsServiceDefinition,
  type RouteGuideServiceHandlers,
  type RouteStatsServiceHandlers,
} from "@protosocket/gen/routeguide/v1/route_guide_protosocket.js";
import { Code, createServer, RpcError, type Server } from "@protosocket/runtime";
import { setTimeout as delay } from "node:timers/promises";

/** What the server counted. */
export interface StandardCounters {
  /** Requests received. */
  calls: bigint;
  /** Calls whose handler's signal aborted before it finished (client Cancel, deadline, connection lost). */
  cancelled: bigint;
}

/** RouteGuideService as the Rust server answers it (unary and server streaming; the Rust crate has no other kinds). */
export function routeGuideHandlers(counters: StandardCounters): Partial<RouteGuideServiceHandlers> {
  return {
    async getFeature(point, ctx) {
      counters.calls++;
      for (const [key, value] of ctx.metadata) ctx.trailers.set(`echo-${key}`, value);
      const left = ctx.timeoutMs();
      if (left !== undefined) ctx.trailers.set("deadline-ms", String(Math.ceil(left)));
      if (point.latitude === -1) {
        try {
          await delay(10_000, undefined, { signal: ctx.signal });
        } catch (e) {
          counters.cancelled++;
          throw e;
        }
      }
      if (point.latitude === 0 && point.longitude === 0) {
        throw new RpcError(Code.NotFound, "no feature at 0,0", [anyPack(PointSchema, create(PointSchema, point))]);
      }
      return { name: `feature at ${point.latitude},${point.longitude}`, location: point };
    },
    async *listFeatures(rect) {
      counters.calls++;
      for (let lat = rect.lo?.latitude ?? 0; lat <= (rect.hi?.latitude ?? 0); lat++) {
        yield { name: `f${lat}`, location: { latitude: lat, longitude: lat } };
      }
    },
  };
}

/** RouteStatsService: the counters, `cancelled` under by_method. */
export function routeStatsHandlers(counters: StandardCounters): RouteStatsServiceHandlers {
  return {
    getStats() {
      counters.calls++;
      return { calls: counters.calls, byMethod: { cancelled: counters.cancelled } };
    },
  };
}

/** A server of both services on 127.0.0.1 (port 0). */
export async function startStandardServer(): Promise<{ server: Server; port: number; counters: StandardCounters }> {
  const counters: StandardCounters = { calls: 0n, cancelled: 0n };
  const server = createServer();
  server.registerPartial(RouteGuideServiceDefinition, routeGuideHandlers(counters));
  server.register(RouteStatsServiceDefinition, routeStatsHandlers(counters));
  const { port } = await server.listen({ host: "127.0.0.1", port: 0 });
  return { server, port, counters };
}
