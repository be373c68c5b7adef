#!/usr/bin/env node
import { Command, InvalidArgumentError } from "commander";
import { createServer, type Server } from "@protosocket/runtime";

/** Where a server listens. */
type ServerAddress = Awaited<ReturnType<Server["listen"]>>;
import { TallyServiceDefinition } from "@protosocket/gen/cluster/v1/tally_protosocket.js";
import { createTallyHandlers } from "./tally-handlers.js";

/** Options of {@link startTallyServer}. */
export interface TallyServerOptions {
  /** The name every answer carries. */
  name: string;
  /** Interface to bind (TCP). */
  host?: string;
  /** Port; 0 picks one (in a cluster worker: the port all workers share). */
  port?: number;
  /** A unix socket path to listen on instead of TCP. */
  path?: string | undefined;
}

/** Starts one tally server. */
export async function startTallyServer(options: TallyServerOptions): Promise<{ server: Server; address: ServerAddress }> {
  const server = createServer({
    onConnectionError: (error, peer) => console.error(`${options.name}: connection ${peer} closed: ${error.message}`),
  });
  server.register(TallyServiceDefinition, createTallyHandlers(options.name));
  const address = await server.listen(
    options.path !== undefined ? { path: options.path } : { host: options.host ?? "127.0.0.1", port: options.port ?? 0 },
  );
  return { server, address };
}

/** "LISTENING host:port" or "LISTENING unix:/path": the line supervisors and tests wait for. */
export function listeningLine(address: ServerAddress): string {
  return `LISTENING ${address.path !== undefined ? `unix:${address.path}` : `${address.host}:${address.port}`}`;
}

export function parseNumber(what: string, max = 2 ** 31 - 1) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0 || n > max) throw new InvalidArgumentError(`${what} is an integer from 0 to ${max}`);
    return n;
  };
}

async function main(): Promise<void> {
  const opts = new Command("tally-server")
    .description("Serves cluster.v1.TallyService in one process")
    .option("--name <name>", "the name every answer carries", `server-${process.pid}`)
    .option("--host <host>", "interface to bind", "127.0.0.1")
    .option("--port <port>", "port to bind (0 picks a free one)", parseNumber("a port", 65535), 7000)
    .option("--path <path>", "listen on this unix socket instead")
    .option("--grace-ms <ms>", "on SIGTERM, how long calls in flight may finish", parseNumber("--grace-ms"), 10_000)
    .parse()
    .opts<{ name: string; host: string; port: number; path?: string; graceMs: number }>();
  const { server, address } = await startTallyServer(opts);
  console.log(listeningLine(address));
  const stop = () => void server.close({ graceMs: opts.graceMs }).then(() => process.exit(0));
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
