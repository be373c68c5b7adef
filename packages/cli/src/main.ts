import { readFileSync } from "node:fs";
import { Command, CommanderError, Option } from "commander";
import { RpcError } from "@protosocket/runtime";
import { runBench } from "./commands/bench.js";
import { runCall } from "./commands/call.js";
import { runHealth } from "./commands/health.js";
import { runDescribe, runList } from "./commands/list-describe.js";
import { CliError, ExitCode, exitCodeHelp, rpcExitCode } from "./exit-codes.js";
import { processIo, type CliIo } from "./io.js";
import { collect, integerIn, parseDuration, positiveNumber } from "./options/parse-values.js";

/** The package's version, from its package.json. */
function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

function withSchema(cmd: Command): Command {
  return cmd
    .option("--proto <file>", "a .proto file to load (repeatable); compiled with the bundled buf, no protoc needed", collect)
    .option("-I, --import-path <dir>", "directory imports are relative to (repeatable); default: the --proto file's package root", collect)
    .option("--image <file>", "a buf image or FileDescriptorSet: binary, or JSON when it ends in .json (repeatable)", collect);
}

function withConnection(cmd: Command): Command {
  return cmd
    .option("--tls", "connect with TLS (every TLS flag below implies it)")
    .option("--cacert <file>", "PEM CA certificate(s) to trust instead of the system's")
    .option("--cert <file>", "PEM client certificate (with --key)")
    .option("--key <file>", "PEM private key of --cert")
    .option("--servername <name>", "TLS server name to send and verify (default: the host)")
    .option("--insecure", "skip verifying the server's certificate")
    .option("--max-frame-bytes <n>", "largest frame sent or accepted, prefix included (default 4 MiB)", integerIn(16, 2 ** 32))
    .option("--connect-timeout <duration>", "give up connecting after this long (default 10s)", parseDuration);
}

function withRequest(cmd: Command): Command {
  return cmd
    .option(
      "-d, --data <json>",
      "the request in the proto3 JSON mapping; @file reads a file, @- stdin (default: stdin when piped, else {})",
    )
    .option("--allow-unknown-fields", "ignore request fields the message does not have")
    .option("--timeout <duration>", "deadline of each call (500ms, 5s, 1m; a bare number is seconds)", parseDuration)
    .option(
      "-H, --metadata <key:value>",
      "call metadata (repeatable); travels in the envelope's metadata field, refused when the envelope binds none",
      collect,
    );
}

/**
 * Builds the `protosocket` command line. Every action stores its exit code in
 * `result.code`.
 */
export function createProgram(io: CliIo, result: { code: number }): Command {
  const program = new Command("protosocket")
    .description(
      "Call, list, describe, health-check and load-test protosocket services from their .proto files or a buf image, without code generation.",
    )
    .version(version())
    .showHelpAfterError("(run with --help for usage)")
    .addHelpText("after", `\n${exitCodeHelp()}`)
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .exitOverride();

  withConnection(withSchema(program.command("list")))
    .description(
      "list the schema's services, or one service's methods; with host:port and no --proto or --image, the server's (reflection)",
    )
    .usage("[options] [host:port] [service]")
    .argument("[service]", "a service: list its methods; or host:port of a server that serves reflection (then the service, if any)")
    .argument("[service]", "the service, after host:port")
    .option("--timeout <duration>", "deadline of the reflection calls (default 10s)", parseDuration)
    .option("--json", "print JSON")
    .action(async (first: string | undefined, second: string | undefined, flags) => {
      result.code = await runList(first, second, flags, io);
    });

  withConnection(withSchema(program.command("describe")))
    .description(
      "show a service's envelope binding and methods, a method's binding and fields, or a message or enum type; with host:port and no --proto or --image, from the server's schema (reflection)",
    )
    .usage("[options] [host:port] <name>")
    .argument(
      "<name>",
      "pkg.Service, pkg.Service/Method, or a message or enum type; or host:port of a server that serves reflection, then the name",
    )
    .argument("[name]", "the name, after host:port")
    .option("--timeout <duration>", "deadline of the reflection calls (default 10s)", parseDuration)
    .option("--json", "print JSON")
    .action(async (first: string, second: string | undefined, flags) => {
      result.code = await runDescribe(first, second, flags, io);
    });

  withRequest(withConnection(withSchema(program.command("call"))))
    .description("call a method and print the response as JSON (a stream: one JSON object per line)")
    .argument("<target>", "host:port")
    .argument("<method>", "pkg.Service/Method")
    .option("--emit-defaults", "print fields that hold their default value")
    .action(async (target: string, method: string, flags) => {
      result.code = await runCall(target, method, flags, io);
    });

  withConnection(withSchema(program.command("health")))
    .description("check health (grpc.health.v1 semantics): exit 0 when SERVING, 5 when not")
    .argument("<target>", "host:port")
    .argument("[service]", "the service to ask about (default: the server as a whole)")
    .option(
      "--health-service <name>",
      "the service answering health checks (default: the schema's one service with a Check method returning a status enum)",
    )
    .option("--timeout <duration>", "deadline of the check (default 5s)", parseDuration)
    .option("--json", "print JSON")
    .action(async (target: string, service: string | undefined, flags) => {
      result.code = await runHealth(target, service, flags, io);
    });

  withRequest(withConnection(withSchema(program.command("bench"))))
    .description("load-test a method, in the manner of ghz: calls/s, latency percentiles and histogram, errors by code")
    .argument("<target>", "host:port")
    .argument("<method>", "pkg.Service/Method")
    .option("-c, --concurrency <n>", "calls in flight at once", integerIn(1, 1_000_000), 50)
    .option("--connections <n>", "connections to spread them over", integerIn(1, 10_000), 1)
    .addOption(
      new Option("-n, --total <n>", "calls to make (default 200 when --duration is not given)").argParser(
        integerIn(1, Number.MAX_SAFE_INTEGER),
      ),
    )
    .option("--duration <duration>", "measure for this long (10s, 1m), then stop", parseDuration)
    .option("--warmup <duration>", "load before measuring, not counted", parseDuration)
    .option("--rate <calls/s>", "start at most this many calls per second (default: as fast as the calls complete)", positiveNumber(1e9))
    .option("--json", "print the summary as JSON")
    .action(async (target: string, method: string, flags) => {
      result.code = await runBench(target, method, flags, io);
    });

  return program;
}

/**
 * Runs the CLI on `args` (without the node and script paths) and returns the
 * exit code; prints errors to `io.stderr`.
 */
export async function runCli(args: readonly string[], io: CliIo): Promise<number> {
  const result = { code: ExitCode.Ok as number };
  const program = createProgram(io, result);
  try {
    await program.parseAsync([...args], { from: "user" });
    return result.code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and --version "fail" with exit code 0; everything else commander rejects is usage.
      return e.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
    }
    if (e instanceof CliError) {
      io.stderr.write(`protosocket: ${e.message}\n`);
      return e.exitCode;
    }
    if (e instanceof RpcError) {
      io.stderr.write(`protosocket: ${e.message}\n`);
      return rpcExitCode(e.code);
    }
    io.stderr.write(`protosocket: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return ExitCode.Internal;
  }
}

/** The bin's entry: runs on process.argv and sets the exit code. */
export async function runFromProcess(): Promise<void> {
  const io = processIo();
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    // The reader went away (`| head`): stop quietly.
    if (e.code === "EPIPE") process.exit(ExitCode.Ok);
  });
  process.exitCode = await runCli(process.argv.slice(2), io);
}
