import { promises as dns } from "node:dns";
import { isIP } from "node:net";
import { Code, RpcError } from "../errors.js";
import type { Endpoint, TcpEndpoint } from "./endpoint.js";
import type { Resolver } from "./resolver.js";

/** Per-query timeout and tries of a DNS server named in the target. */
const QUERY_TIMEOUT_MS = 2_000;
const QUERY_TRIES = 2;

function resolveError(what: string, e: unknown): RpcError {
  const err = e as NodeJS.ErrnoException;
  return new RpcError(Code.Unavailable, `cannot resolve ${what}: ${err.code ?? err.message}`, [], { cause: e });
}

/** A node:dns resolver that asks `server` ("ip" or "ip:port"), or undefined for the system's configuration. */
function resolverFor(server: string | undefined): dns.Resolver | undefined {
  if (server === undefined) return undefined;
  const r = new dns.Resolver({ timeout: QUERY_TIMEOUT_MS, tries: QUERY_TRIES });
  try {
    r.setServers([server]);
  } catch (e) {
    throw new RpcError(Code.InvalidArgument, `invalid DNS server ${JSON.stringify(server)} in the target: ${(e as Error).message}`);
  }
  return r;
}

/**
 * The addresses of `name`: A and AAAA records from `resolver`, or the
 * system's lookup (which also reads /etc/hosts) when there is none.
 */
async function addressesOf(name: string, resolver: dns.Resolver | undefined): Promise<string[]> {
  if (isIP(name) !== 0) return [name];
  if (resolver === undefined) {
    try {
      const found = await dns.lookup(name, { all: true });
      return found.map((a) => a.address);
    } catch (e) {
      throw resolveError(name, e);
    }
  }
  const [v4, v6] = await Promise.allSettled([resolver.resolve4(name), resolver.resolve6(name)]);
  if (v4.status === "rejected" && v6.status === "rejected") throw resolveError(name, v4.reason);
  return [...(v4.status === "fulfilled" ? v4.value : []), ...(v6.status === "fulfilled" ? v6.value : [])];
}

/**
 * `dns:///name:port`: every A and AAAA address of `name`, on `port`. The
 * TLS server name is `name`, whatever address is dialled.
 */
export function createDnsResolver(target: string, name: string, port: number, server: string | undefined): Resolver {
  const resolver = resolverFor(server);
  return {
    name: target,
    async resolve(): Promise<Endpoint[]> {
      const addresses = await addressesOf(name, resolver);
      return addresses.map((host): TcpEndpoint => ({ host, port, servername: name }));
    },
  };
}

/**
 * `srv:///_service._tcp.name`: the SRV records of the lowest priority, each
 * target's addresses on the record's port with the record's weight. The TLS
 * server name is the record's target name.
 */
export function createSrvResolver(target: string, name: string, server: string | undefined): Resolver {
  const resolver = resolverFor(server);
  return {
    name: target,
    async resolve(): Promise<Endpoint[]> {
      let records: { name: string; port: number; priority: number; weight: number }[];
      try {
        records = await (resolver ?? dns).resolveSrv(name);
      } catch (e) {
        throw resolveError(name, e);
      }
      if (records.length === 0) return [];
      const best = Math.min(...records.map((r) => r.priority));
      const chosen = records.filter((r) => r.priority === best);
      const resolved = await Promise.allSettled(chosen.map((r) => addressesOf(r.name, resolver)));
      const endpoints: Endpoint[] = [];
      let firstError: unknown;
      resolved.forEach((res, i) => {
        const record = chosen[i] as (typeof chosen)[number];
        if (res.status === "rejected") {
          firstError ??= res.reason;
          return;
        }
        for (const host of res.value) endpoints.push({ host, port: record.port, weight: record.weight, servername: record.name });
      });
      if (endpoints.length === 0 && firstError !== undefined) throw firstError;
      return endpoints;
    },
  };
}
