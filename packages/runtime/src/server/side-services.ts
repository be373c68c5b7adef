/**
 * Side services: services a server serves on connections that open with a
 * probing frame (a standard-envelope request frame that starts with the byte
 * 0x00, protosocket/v1/standard.proto), beside the services of its own
 * envelopes. Reflection uses it, so that a tool that does not know a server's
 * envelope can ask a server of bound envelopes for its schema: a server that
 * serves no side services refuses such a frame (no protobuf envelope decodes
 * it) and closes the connection instead of misreading it.
 */
import type { AnyServiceDefinition } from "../encoding/service.js";
import { isProbingFrame } from "../protobuf/standard-envelope-wire.js";
import type { ServerInterceptor } from "./interceptor.js";
import { ServiceRegistry } from "./service-registry.js";
import type { ServingState } from "./serving-state.js";

const sides = new WeakMap<object, ServiceRegistry>();
/** Servers that started serving: their side services are fixed. */
const serving = new WeakSet<object>();

/**
 * Serves `def` with `impl` on `server`'s connections that open with a
 * probing frame. Call before the server serves (listen()).
 *
 * @throws Error once the server is serving, or when `def` cannot share the side services' envelope.
 */
export function registerSideService(server: object, def: AnyServiceDefinition, impl: Record<string, unknown>): void {
  if (serving.has(server)) throw new Error(`cannot register ${def.service.typeName}: the server is already serving`);
  let registry = sides.get(server);
  if (registry === undefined) {
    registry = new ServiceRegistry();
    sides.set(server, registry);
  }
  registry.register(def, impl, false);
}

/** The side services registered on `server`. */
export function sideServices(server: object): readonly AnyServiceDefinition[] {
  return sides.get(server)?.definitions ?? [];
}

/**
 * `state` with the side services of `server`, if it has any: a connection
 * whose first frame probes is served by them (with the server's interceptors,
 * limits and server-wide call count) instead.
 */
export function withSideServices(server: object, state: ServingState, interceptors: readonly ServerInterceptor[]): ServingState {
  serving.add(server);
  const registry = sides.get(server);
  if (registry === undefined) return state;
  const { codecs, routes } = registry.serve(interceptors);
  const side: ServingState = { ...state, codecs, routes };
  return { ...state, firstFrame: (body) => (isProbingFrame(body) ? side : undefined) };
}
