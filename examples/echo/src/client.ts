#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { Command, InvalidArgumentError } from "commander";
import { Code, codeToString, connect, createClient, healthDefinition, RpcError, ServingStatus } from "@protosocket/runtime";
import { EchoServiceDefinition } from "@protosocket/gen/echo/v1/echo_protosocket.js";

/** Options of {@link runEchoClient}. */
export interface EchoClientOptions {
  /** Server host. */
  host: string;
  /** Server port. */
  port: number;
  /** Messages to stream from Count. */
  count: number;
  /** Use TLS; with `ca`, trust that PEM certificate. */
  tls?: boolean | undefined;
  ca?: string | undefined;
  /** Where to print. */
  log?: (line: string) => void;
}

/**
 * Makes one of each kind of call — unary, streaming, a cancelled stream and a
 * failing call — and prints what happened. Throws if anything differs from
 * what the echo service promises.
 */
export async function runEchoClient(options: EchoClientOptions): Promise<void> {
  const log = options.log ?? ((line: string) => console.log(line));
  const transport = await connect({
    host: options.host,
    port: options.port,
    ...(options.tls === true ? { tls: options.ca !== undefined ? { ca: readFileSync(options.ca), servername: "localhost" } : true } : {}),
  });
  try {
    const client = createClient(EchoServiceDefinition, transport);

    const health = createClient(healthDefinition(EchoServiceDefinition), transport);
    const { status } = await health.check({ service: "echo.v1.EchoService" });
    log(`health     Check("echo.v1.EchoService") -> ${ServingStatus[status]}`);
    if (status !== ServingStatus.SERVING) throw new Error("the echo service is not serving");

    const echoed = await client.echo({ message: "hello, protosocket" });
    log(`unary      Echo("hello, protosocket") -> "${echoed.message}"`);
    if (echoed.message !== "hello, protosocket") throw new Error("echo returned another message");

    let last = 0;
    for await (const item of client.count({ count: options.count })) {
      if (item.n !== last + 1) throw new Error(`stream out of order: ${item.n} after ${last}`);
      last = item.n;
    }
    log(`streaming  Count(${options.count}) -> ${last} messages in order, then End`);
    if (last !== options.count) throw new Error(`expected ${options.count} messages, got ${last}`);

    const ac = new AbortController();
    let received = 0;
    try {
      for await (const _ of client.count({ count: 1_000_000, delayMs: 5 }, { signal: ac.signal })) {
        if (++received === 3) ac.abort();
      }
      throw new Error("the cancelled stream ended normally");
    } catch (e) {
      if (!(e instanceof RpcError) || e.code !== Code.Cancelled) throw e;
      log(`cancelled  Count(1000000) after ${received} messages -> ${codeToString(e.code)}`);
    }

    try {
      await client.fail({ code: Code.NotFound, message: "there is nothing here" });
      throw new Error("Fail succeeded");
    } catch (e) {
      if (!(e instanceof RpcError) || e.code !== Code.NotFound) throw e;
      log(`error      Fail(not_found) -> RpcError ${e.message}`);
    }

    const timedOut = await client
      .count({ count: 10, delayMs: 1000 }, { timeoutMs: 50 })
      [Symbol.asyncIterator]()
      .next()
      .catch((e: unknown) => e);
    if (!(timedOut instanceof RpcError) || timedOut.code !== Code.DeadlineExceeded) throw new Error("expected a deadline_exceeded error");
    log(`timeout    Count(delay 1 s) with timeoutMs 50 -> ${codeToString(timedOut.code)}`);

    // The echo envelopes bind a metadata field: metadata goes with the request, trailers come back.
    let trailers: ReadonlyMap<string, string> | undefined;
    await client.echo({ message: "with metadata" }, { metadata: { "x-request-id": "demo-1" }, onTrailer: (t) => (trailers = t) });
    log(`metadata   Echo with x-request-id=demo-1 -> trailers ${JSON.stringify(Object.fromEntries(trailers ?? []))}`);
  } finally {
    transport.close();
  }
}

function parseInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("expected a non-negative integer");
  return n;
}

async function main(): Promise<void> {
  const opts = new Command("echo-client")
    .description("Calls echo.v1.EchoService: unary, streaming, a cancelled stream, an error and a timeout")
    .option("--host <host>", "server host", "127.0.0.1")
    .option("--port <port>", "server port", parseInteger, 7000)
    .option("--count <n>", "messages to stream", parseInteger, 100)
    .option("--tls", "connect with TLS")
    .option("--ca <file>", "PEM certificate to trust (with --tls)")
    .parse()
    .opts<{ host: string; port: number; count: number; tls?: boolean; ca?: string }>();
  await runEchoClient(opts);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
