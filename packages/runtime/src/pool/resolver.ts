import type { Endpoint } from "./endpoint.js";

/**
 * Where a pool finds its servers. Implement it for any discovery (an HTTP
 * endpoints API, a service registry); `dns:///` and `srv:///` targets are
 * resolvers too. A source that pushes changes can keep its latest answer
 * and return it from {@link resolve}.
 *
 * ```ts
 * const resolver: Resolver = {
 *   name: "endpoints-api",
 *   async resolve(signal) {
 *     const res = await fetch("http://registry/endpoints/kv", { signal });
 *     return (await res.json()) as Endpoint[]; // [{ host: "10.0.0.7", port: 7000 }, …]
 *   },
 * };
 * const pool = createPool(resolver);
 * ```
 */
export interface Resolver {
  /** Names the target: the pool's {@link Transport.target}, and in errors. */
  readonly name: string;
  /**
   * The servers now. Called when the pool starts, every
   * `resolveIntervalMs`, and soon after a connection fails (at most once per
   * `minResolveIntervalMs`). A rejection, or an empty answer, keeps the
   * previous servers (before the first answer, calls wait for one).
   */
  resolve(signal: AbortSignal): Promise<readonly Endpoint[]> | readonly Endpoint[];
  /** True when the answer never changes (a fixed list): resolved once. */
  readonly static?: boolean;
}

/** A resolver of a fixed list. */
export function staticResolver(name: string, endpoints: readonly Endpoint[]): Resolver {
  const list = [...endpoints];
  return { name, static: true, resolve: () => list };
}
