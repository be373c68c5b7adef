import { formatAddress } from "../conn/socket-options.js";
import { Code, RpcError } from "../errors.js";

/**
 * One server a pool can connect to: a TCP host and port, or a unix socket
 * path. What a {@link Resolver} returns.
 */
export type Endpoint = TcpEndpoint | UnixEndpoint;

/** A server reached over TCP (or TLS). */
export interface TcpEndpoint {
  /** IP address or host name to dial. */
  readonly host: string;
  /** Port, 1 to 65535. */
  readonly port: number;
  /**
   * Relative share of calls for this server (SRV weight); default 1. A
   * server of weight 2 gets about twice the calls of one of weight 1.
   */
  readonly weight?: number;
  /**
   * TLS server name to send and check, when the pool's TLS options name
   * none: the name the address was resolved from (a dns:/// or SRV name),
   * independent of the address dialled.
   */
  readonly servername?: string;
}

/** A server reached over a unix domain socket. */
export interface UnixEndpoint {
  /** The socket's path. */
  readonly path: string;
  /** Relative share of calls; default 1. */
  readonly weight?: number;
  /** TLS server name, when the pool's TLS options name none. */
  readonly servername?: string;
}

/** "host:port" (IPv6 in brackets) or "unix:/path": one key per server. */
export function endpointKey(endpoint: Endpoint): string {
  return "path" in endpoint ? `unix:${endpoint.path}` : formatAddress(endpoint.host, endpoint.port);
}

/** The weight of an endpoint, with 0 (SRV's "rarely") as a small share rather than none. */
export function endpointWeight(endpoint: Endpoint): number {
  const w = endpoint.weight ?? 1;
  return w > 0 ? w : 0.01;
}

/**
 * Checks what a resolver returned.
 *
 * @throws RpcError `invalid_argument` naming the resolver and the bad endpoint.
 */
export function checkEndpoints(value: unknown, source: string): Endpoint[] {
  if (!Array.isArray(value)) throw new RpcError(Code.InvalidArgument, `${source} returned ${String(value)}, not an array of endpoints`);
  return value.map((e: unknown, i) => {
    const bad = (why: string) => new RpcError(Code.InvalidArgument, `${source} returned a bad endpoint at index ${i}: ${why}`);
    if (e === null || typeof e !== "object") throw bad("not an object");
    const ep = e as Record<string, unknown>;
    if (ep.weight !== undefined && (typeof ep.weight !== "number" || !(ep.weight >= 0) || !Number.isFinite(ep.weight)))
      throw bad("weight must be a number ≥ 0");
    if (ep.servername !== undefined && typeof ep.servername !== "string") throw bad("servername must be a string");
    if (typeof ep.path === "string") {
      if (ep.path.length === 0) throw bad("empty path");
      return e as UnixEndpoint;
    }
    if (typeof ep.host !== "string" || ep.host.length === 0) throw bad("host must be a non-empty string (or give a path)");
    const port = ep.port;
    if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535)
      throw bad(`port ${String(port)} is not 1 to 65535`);
    return e as TcpEndpoint;
  });
}
