import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import type { ConnectOptions } from "@protosocket/runtime";
import { usageError } from "../exit-codes.js";

/** Where to connect, as parsed from `host:port`. */
export interface Target {
  readonly host: string;
  readonly port: number;
}

/**
 * Parses a target argument: `host:port`, `[::1]:port`, or `:port` for
 * 127.0.0.1.
 *
 * @throws CliError (usage) naming the argument and what to write.
 */
export function parseTarget(value: string): Target {
  const bad = (why: string) => usageError(`target "${value}": ${why}; write host:port, e.g. 127.0.0.1:7000 or [::1]:7000`);
  let host: string;
  let portText: string;
  const v6 = /^\[([^\]]+)\]:(.*)$/.exec(value);
  if (v6 !== null) {
    host = v6[1] as string;
    portText = v6[2] as string;
    if (isIP(host) !== 6) throw bad(`"${host}" is not an IPv6 address`);
  } else {
    const colon = value.lastIndexOf(":");
    if (colon < 0) throw bad("no port");
    host = value.slice(0, colon);
    portText = value.slice(colon + 1);
    if (host.includes(":")) throw bad("an IPv6 address needs brackets");
    if (host === "") host = "127.0.0.1";
  }
  const port = Number(portText);
  if (portText === "" || !Number.isInteger(port) || port < 1 || port > 65535)
    throw bad(`port "${portText}" is not an integer from 1 to 65535`);
  return { host, port };
}

/**
 * True when a positional argument names a server (`host:port`, `[::1]:port`,
 * `:port`) rather than a service, method or type: those never hold a colon.
 */
export function isAddress(value: string): boolean {
  return value.includes(":");
}

/** The connection flags every command that connects takes. */
export interface ConnectionFlags {
  tls?: boolean;
  cacert?: string;
  cert?: string;
  key?: string;
  servername?: string;
  insecure?: boolean;
  maxFrameBytes?: number;
  connectTimeout?: number;
}

function readPem(flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw usageError(`${flag} ${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** True when any flag asks for TLS (every TLS flag implies --tls). */
export function wantsTls(flags: ConnectionFlags): boolean {
  return (
    flags.tls === true ||
    flags.cacert !== undefined ||
    flags.cert !== undefined ||
    flags.key !== undefined ||
    flags.servername !== undefined ||
    flags.insecure === true
  );
}

/**
 * The runtime's connect options for a target and the connection flags:
 * PEM files read, `--cert` and `--key` checked to come together.
 *
 * @throws CliError (usage) naming the flag.
 */
export function connectOptionsFrom(target: Target, flags: ConnectionFlags): ConnectOptions {
  const options: ConnectOptions = { host: target.host, port: target.port };
  if (flags.maxFrameBytes !== undefined) options.maxFrameBytes = flags.maxFrameBytes;
  if (flags.connectTimeout !== undefined) options.connectTimeoutMs = flags.connectTimeout;
  if (!wantsTls(flags)) return options;
  if ((flags.cert === undefined) !== (flags.key === undefined)) {
    throw usageError(
      `--cert and --key go together (a client certificate and its private key); got only ${flags.cert !== undefined ? "--cert" : "--key"}`,
    );
  }
  const tls: NonNullable<Exclude<ConnectOptions["tls"], true>> = {};
  if (flags.cacert !== undefined) tls.ca = readPem("--cacert", flags.cacert);
  if (flags.cert !== undefined) tls.cert = readPem("--cert", flags.cert);
  if (flags.key !== undefined) tls.key = readPem("--key", flags.key);
  if (flags.servername !== undefined) tls.servername = flags.servername;
  if (flags.insecure === true) tls.rejectUnauthorized = false;
  options.tls = tls;
  return options;
}
