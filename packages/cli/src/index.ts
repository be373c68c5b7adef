/**
 * @protosocket/cli — the `protosocket` command line, and the same commands
 * for programs and tests: {@link runCli} runs one command line with the
 * streams it is given ({@link processIo}: the process's own, as the bin does).
 * @packageDocumentation
 */

export { createProgram, runCli } from "./main.js";
export { processIo, type CliIo, type InputStream, type OutputStream } from "./io.js";
export { CliError, ExitCode, RPC_EXIT_BASE, rpcExitCode, type CliErrorKind } from "./exit-codes.js";
export type { BenchSummary } from "./bench/bench-report.js";
export type { HealthResult } from "./commands/health.js";
export type {
  CaseDescription,
  EnumDescription,
  EnvelopeDescription,
  FieldDescription,
  MessageDescription,
  MethodDescription,
  ServiceDescription,
} from "./describe/descriptions.js";
export type { MethodDetail } from "./commands/list-describe.js";
