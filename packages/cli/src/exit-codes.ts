import { codeToString, type Code } from "@protosocket/runtime";

/**
 * The exit codes of `protosocket`. Each kind of failure has its own, so a
 * script can tell a typo from a refused connection from a failed call.
 */
export const ExitCode = {
  /** Done; for `health`, the service is SERVING. */
  Ok: 0,
  /** A bug: something failed that the CLI did not expect. */
  Internal: 1,
  /** Bad command line or input: an unknown flag, service, method or field, invalid JSON. */
  Usage: 2,
  /** The schema could not be loaded or used: a .proto that does not compile, an unreadable image, a service without an envelope binding. */
  Schema: 3,
  /** No connection: the host is unreachable, refused, timed out, or the TLS handshake failed. */
  Connection: 4,
  /** `health`: the server answered, and the service is not SERVING. */
  NotServing: 5,
  /** `bench`: the run finished, and some calls failed (the report lists them by code). */
  BenchErrors: 6,
  /** Interrupted with Ctrl-C (128 + SIGINT); a call in flight was cancelled with a Cancel frame. */
  Interrupted: 130,
} as const;

/** One of {@link ExitCode}'s values, or {@link rpcExitCode}'s. */
export type ExitCodeValue = number;

/** The first exit code used for RPC errors: a call that fails with code N exits with 64 + N (65 cancelled … 80 unauthenticated). */
export const RPC_EXIT_BASE = 64;

/** The exit code of a call that failed with `code`. */
export function rpcExitCode(code: Code): number {
  return RPC_EXIT_BASE + code;
}

/** The kinds of {@link CliError}, each with its exit code. */
export type CliErrorKind = "usage" | "schema" | "connection";

const exitCodeOf: Record<CliErrorKind, number> = {
  usage: ExitCode.Usage,
  schema: ExitCode.Schema,
  connection: ExitCode.Connection,
};

/**
 * A failure the CLI explains and exits on: the message is printed as it is
 * (it names the flag, file, service, method or field concerned and, where
 * there is one, what to write instead), and the process exits with the
 * kind's code.
 */
export class CliError extends Error {
  /** What kind of failure, which decides the exit code. */
  readonly kind: CliErrorKind;

  /**
   * @param kind usage, schema or connection.
   * @param message what is wrong, for a person.
   * @param options the cause, if any.
   */
  constructor(kind: CliErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "CliError";
    this.kind = kind;
  }

  /** The process exit code for this error. */
  get exitCode(): number {
    return exitCodeOf[this.kind];
  }
}

/** A usage error (exit 2). */
export function usageError(message: string): CliError {
  return new CliError("usage", message);
}

/** A schema error (exit 3). */
export function schemaError(message: string, cause?: unknown): CliError {
  return new CliError("schema", message, cause === undefined ? undefined : { cause });
}

/** The table of exit codes, as `--help` prints it. */
export function exitCodeHelp(): string {
  return [
    "Exit codes:",
    "  0       success (health: SERVING)",
    "  1       internal error (a bug)",
    "  2       usage: bad flags or arguments, unknown service/method/field, invalid JSON",
    "  3       schema: .proto does not compile, unreadable image, service without an envelope binding",
    "  4       connection: unreachable or refused host, connect timeout, TLS failure",
    "  5       health: the service is not SERVING",
    "  6       bench: the run finished with failed calls",
    `  64+N    the call failed with RPC code N (${RPC_EXIT_BASE + 5} = ${codeToString(5)}, ${RPC_EXIT_BASE + 14} = ${codeToString(14)} …)`,
    "  130     interrupted (Ctrl-C); the call was cancelled",
  ].join("\n");
}
