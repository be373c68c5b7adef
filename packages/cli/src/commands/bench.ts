import type { ConnectionTransport, Transport } from "@protosocket/runtime";
import { streamCaller, unaryCaller } from "@protosocket/runtime/protocol";
import { summarize, renderSummary } from "../bench/bench-report.js";
import { BenchRun, type BenchCall } from "../bench/bench-run.js";
import { ProgressLine } from "../bench/progress-line.js";
import { openConnection } from "../connection.js";
import { ExitCode, usageError } from "../exit-codes.js";
import type { CliIo } from "../io.js";
import { closeAfterFlush } from "../rpc-output.js";
import { prepareCall, type CallFlags } from "./prepared-call.js";

/** Flags of `protosocket bench`. */
export interface BenchFlags extends CallFlags {
  /** `-c`: calls in flight. */
  concurrency: number;
  /** `--connections`. */
  connections: number;
  /** `-n`: measured calls. */
  total?: number;
  /** `--duration`, ms. */
  duration?: number;
  /** `--warmup`, ms. */
  warmup?: number;
  /** `--rate`: calls started per second. */
  rate?: number;
  /** `--json`. */
  json?: boolean;
}

/** Calls made when neither -n nor --duration is given (ghz's default). */
export const DEFAULT_TOTAL = 200;

/**
 * `protosocket bench host:port pkg.Service/Method`: a closed-loop load run
 * (see bench-run.ts), then a report of calls/s, latency percentiles and
 * histogram, and errors by code; `--json` prints the summary as JSON
 * instead. A live progress line is drawn on stderr when it is a terminal.
 *
 * @returns 0, 6 when calls failed, 130 when interrupted.
 */
export async function runBench(targetArg: string, methodRef: string, flags: BenchFlags, io: CliIo): Promise<number> {
  if (flags.connections > flags.concurrency) {
    throw usageError(
      `--connections ${flags.connections} is more than -c ${flags.concurrency}: each connection needs at least one call in flight`,
    );
  }
  const prepared = await prepareCall(targetArg, methodRef, flags, io);
  const total = flags.total ?? (flags.duration === undefined ? DEFAULT_TOTAL : undefined);
  const transports: ConnectionTransport[] = [];
  try {
    for (let i = 0; i < flags.connections; i++) transports.push(await openConnection(prepared.connect));
    const { def, method, request } = prepared;
    // No options object at all when there is nothing in it: the runtime then skips checking one per call.
    const callOptions = Object.keys(prepared.callOptions).length > 0 ? prepared.callOptions : undefined;
    // One caller per connection, made once: a call then builds nothing but its request.
    const unary = new Map(transports.map((t) => [t as Transport, unaryCaller(t, def, method)]));
    const stream = new Map(transports.map((t) => [t as Transport, streamCaller(t, def, method)]));
    const call: BenchCall =
      method.methodKind === "unary"
        ? async (t: Transport) => {
            await (unary.get(t) as ReturnType<typeof unaryCaller>)(request, callOptions);
            return 1;
          }
        : async (t: Transport) => {
            let n = 0;
            for await (const _ of (stream.get(t) as ReturnType<typeof streamCaller>)(request, callOptions)) n++;
            return n;
          };
    const run = new BenchRun(transports, call, {
      concurrency: flags.concurrency,
      total,
      durationMs: flags.duration,
      warmupMs: flags.warmup ?? 0,
      rate: flags.rate,
    });
    const progress = new ProgressLine(io.stderr, () => run.progress());
    const off = io.onInterrupt(() => run.stop("interrupted"));
    progress.start();
    let outcome: Awaited<ReturnType<typeof run.run>>;
    try {
      outcome = await run.run();
    } finally {
      progress.stop();
      off();
    }
    const summary = summarize(
      {
        target: targetArg,
        method: prepared.fullName,
        kind: method.methodKind,
        connections: flags.connections,
        concurrency: flags.concurrency,
        total,
        durationMs: flags.duration,
        warmupMs: flags.warmup ?? 0,
        rate: flags.rate,
      },
      outcome,
    );
    io.stdout.write(flags.json === true ? `${JSON.stringify(summary, null, 2)}\n` : `${renderSummary(summary)}\n`);
    if (outcome.stoppedBy === "interrupted") return ExitCode.Interrupted;
    return outcome.failed > 0 || outcome.stoppedBy === "connection_lost" ? ExitCode.BenchErrors : ExitCode.Ok;
  } finally {
    await Promise.all(transports.map((t) => closeAfterFlush(t)));
  }
}
