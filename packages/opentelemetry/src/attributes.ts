import { Code, codeToString, RpcError } from "@protosocket/runtime";

/** The value of `rpc.system.name` for protosocket calls. */
export const RPC_SYSTEM = "protosocket";

/** A status code as `rpc.status_code` carries it: gRPC's names ("OK", "NOT_FOUND"). */
export function statusCodeName(code: Code | 0): string {
  return code === 0 ? "OK" : codeToString(code).toUpperCase();
}

/**
 * Codes a server counts as its own failure (the gRPC conventions): the
 * others (not found, invalid argument …) are the caller's, and leave the
 * server span's status unset.
 */
const SERVER_ERRORS = new Set<Code>([
  Code.Unknown,
  Code.DeadlineExceeded,
  Code.Unimplemented,
  Code.Internal,
  Code.Unavailable,
  Code.DataLoss,
]);

/** True when a server span for a call that ended with `code` is an error. */
export function isServerError(code: Code): boolean {
  return SERVER_ERRORS.has(code);
}

/** The code of whatever a call failed with. */
export function codeOf(error: unknown): Code {
  return RpcError.from(error).code;
}

/**
 * `server.address` and `server.port` of a "host:port" (IPv6 in brackets),
 * a target URL such as "dns:///name:port", or a unix socket path.
 */
export function addressAttributes(peer: string, prefix: "server" | "network.peer"): Record<string, string | number> {
  let rest = peer;
  const scheme = /^[a-z][a-z0-9+.-]*:\/\/\/?/i.exec(rest);
  if (scheme !== null) {
    if (scheme[0].toLowerCase().startsWith("unix:")) return { [`${prefix}.address`]: rest.slice(scheme[0].length - 1) };
    rest = rest.slice(scheme[0].length);
  }
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(rest);
  const plain = /^([^:]+):(\d+)$/.exec(rest);
  const m = bracketed ?? plain;
  if (m === null) return { [`${prefix}.address`]: rest };
  return { [`${prefix}.address`]: m[1] as string, [`${prefix}.port`]: Number(m[2]) };
}
