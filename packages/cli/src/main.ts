import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { runDescribe, runList } from "./commands/list-describe.js";
import { CliError, ExitCode, exitCodeHelp } from "./exit-codes.js";
import { processIo, type CliIo } from "./io.js";
import { collect } from "./options/parse-values.js";

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

  withSchema(program.command("list"))
    .description("list the schema's services, or one service's methods")
    .argument("[service]", "a service: list its methods")
    .option("--json", "print JSON")
    .action(async (service: string | undefined, flags) => {
      result.code = await runList(service, flags, io);
    });

  withSchema(program.command("describe"))
    .description("show a service's envelope binding and methods, a method's binding and fields, or a message or enum type")
    .argument("<name>", "pkg.Service, pkg.Service/Method, or a message or enum type")
    .option("--json", "print JSON")
    .action(async (name: string, flags) => {
      result.code = await runDescribe(name, flags, io);
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
