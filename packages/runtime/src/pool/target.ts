import { Code, RpcError } from "../errors.js";
import { createDnsResolver, createSrvResolver } from "./dns-resolver.js";
import type { Endpoint } from "./endpoint.js";
import { staticResolver, type Resolver } from "./resolver.js";

/** What a pool can be given as its target: see {@link resolverOf}. */
export type Target = string | readonly string[] | Resolver;

function bad(target: string, why: string): RpcError {
  return new RpcError(Code.InvalidArgument, `invalid target ${JSON.stringify(target)}: ${why}`);
}

/** "host:port" or "[v6]:port" → host and port. */
function hostPort(text: string, target: string): { host: string; port: number } {
  let host: string;
  let portText: string;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0 || text[close + 1] !== ":") throw bad(target, "expected [ipv6]:port");
    host = text.slice(1, close);
    portText = text.slice(close + 2);
  } else {
    const colon = text.lastIndexOf(":");
    if (colon <= 0) throw bad(target, "expected host:port");
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(":")) throw bad(target, "write an IPv6 address in brackets, [::1]:port");
  }
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) throw bad(target, `port ${JSON.stringify(portText)} is not 1 to 65535`);
  if (host.length === 0) throw bad(target, "empty host");
  return { host, port };
}

/** The path of a unix: target: unix:///abs/path, unix:/abs/path or unix:relative/path. */
function unixPath(text: string, target: string): string {
  let rest = text.slice("unix:".length);
  if (rest.startsWith("//")) {
    rest = rest.slice(2);
    if (!rest.startsWith("/")) throw bad(target, "unix://authority/path is not supported; write unix:///absolute/path");
  }
  if (rest.length === 0) throw bad(target, "empty socket path");
  return rest;
}

/** A static entry: host:port or a unix socket. */
function staticEndpoint(text: string, target: string): Endpoint {
  const t = text.trim();
  if (t.startsWith("unix:")) return { path: unixPath(t, target) };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(t)) throw bad(target, `${t.slice(0, t.indexOf(":"))}: cannot be part of a list`);
  return hostPort(t, target);
}

/** "dns://server:port/name" → the DNS server ("" for the system's) and the rest. */
function authority(text: string, scheme: string, target: string): { server: string | undefined; rest: string } {
  const body = text.slice(scheme.length);
  if (!body.startsWith("//")) return { server: undefined, rest: body };
  const slash = body.indexOf("/", 2);
  if (slash < 0) throw bad(target, `expected ${scheme}//[dns-server]/name`);
  const server = body.slice(2, slash);
  return { server: server.length > 0 ? server : undefined, rest: body.slice(slash + 1) };
}

/**
 * Turns a target into a resolver:
 * - `"host:port"`, `"[::1]:port"`, `"unix:///path"`, a list of them (or one
 *   string of them separated by commas): a fixed list;
 * - `"dns:///name:port"`: the name's A and AAAA records, re-resolved
 *   (`dns://10.0.0.2:53/name:port` asks that DNS server);
 * - `"srv:///_service._tcp.name"`: SRV records, with their ports and weights;
 * - a {@link Resolver}: as it is.
 *
 * @throws RpcError `invalid_argument` naming the target and what is wrong.
 */
export function resolverOf(target: Target): Resolver {
  if (typeof target === "object" && target !== null && !Array.isArray(target)) {
    const r = target as Resolver;
    if (typeof r.resolve !== "function" || typeof r.name !== "string") {
      throw new RpcError(Code.InvalidArgument, "invalid target: a resolver needs a name (string) and a resolve(signal) function");
    }
    return r;
  }
  if (Array.isArray(target)) {
    if (target.length === 0) throw bad("[]", "an empty list");
    const list = target as readonly unknown[];
    const endpoints = list.map((t) => {
      if (typeof t !== "string") throw bad(String(t), "list entries must be strings");
      return staticEndpoint(t, t);
    });
    return staticResolver(list.join(","), endpoints);
  }
  if (typeof target !== "string" || target.trim().length === 0) {
    throw new RpcError(
      Code.InvalidArgument,
      `invalid target ${JSON.stringify(target)}: expected "host:port", a list, "dns:///name:port", "srv:///name", "unix:///path" or a Resolver`,
    );
  }
  const t = target.trim();
  if (t.startsWith("dns:")) {
    const { server, rest } = authority(t, "dns:", t);
    const { host, port } = hostPort(rest.startsWith("/") ? rest.slice(1) : rest, t);
    return createDnsResolver(t, host, port, server);
  }
  if (t.startsWith("srv:")) {
    const { server, rest } = authority(t, "srv:", t);
    const name = rest.startsWith("/") ? rest.slice(1) : rest;
    if (name.length === 0 || name.includes(":")) throw bad(t, "expected srv:///_service._proto.name (the port comes from the SRV records)");
    return createSrvResolver(t, name, server);
  }
  return staticResolver(
    t,
    t.split(",").map((part) => staticEndpoint(part, t)),
  );
}
