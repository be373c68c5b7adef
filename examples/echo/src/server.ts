#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { Command, InvalidArgumentError } from "commander";
import { createServer, registerHealth, registerReflection, type Server } from "@protosocket/runtime";
import { echoHandlers } from "./echo-handlers.js";
import { EchoServiceDefinition } from "@protosocket/gen/echo/v1/echo_protosocket.js";

/** Options of {@link startEchoServer}. */
export interface EchoServerOptions {
  /** Interface to bind. */
  host: string;
  /** Port; 0 picks one. */
  port: number;
  /** PEM certificate and key files: serve TLS. */
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
}

/** Starts the echo server; resolves with it and its port. */
export async function startEchoServer(options: EchoServerOptions): Promise<{ server: Server; host: string; port: number }> {
  const server = createServer({
    onHandlerError: (error, method, peer) => console.error(`handler error in ${method} for ${peer}: ${error.message}`),
    onConnectionError: (error, peer) => console.error(`connection ${peer} closed: ${error.message}`),
  });
  server.register(EchoServiceDefinition, echoHandlers);
  // Health checks travel in the echo envelopes' health_check / health_watch cases; NOT_SERVING once close() begins.
  registerHealth(server);
  // Reflection: `protosocket list 127.0.0.1:7000`, describe and call with no .proto (on connections that ask for it).
  registerReflection(server);
  const tls =
    options.tlsCert !== undefined && options.tlsKey !== undefined
      ? { cert: readFileSync(options.tlsCert), key: readFileSync(options.tlsKey) }
      : undefined;
  const address = await server.listen({ host: options.host, port: options.port, ...(tls !== undefined ? { tls } : {}) });
  return { server, ...address };
}

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError("a port is an integer from 0 to 65535");
  return n;
}

async function main(): Promise<void> {
  const program = new Command("echo-server")
    .description("Serves echo.v1.EchoService over protosocket")
    .option("--host <host>", "interface to bind", "127.0.0.1")
    .option("--port <port>", "port to bind (0 picks a free one)", parsePort, 7000)
    .option("--tls-cert <file>", "PEM certificate: serve TLS")
    .option("--tls-key <file>", "PEM private key of --tls-cert")
    .parse();
  const opts = program.opts<{ host: string; port: number; tlsCert?: string; tlsKey?: string }>();
  if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) program.error("--tls-cert and --tls-key go together");
  const { server, host, port } = await startEchoServer(opts);
  // One line a supervisor (or the demo) can wait for.
  console.log(`LISTENING ${host}:${port}`);
  const stop = () => {
    void server.close({ graceMs: 2000 }).then(() => process.exit(0));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
