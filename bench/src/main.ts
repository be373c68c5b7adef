// The coordinator: `npm run bench -- [flags]`. For every round, workload and system
// (interleaved: A B C A B C …) it starts the system's server in its own process, then a
// load generator in another, samples the server's CPU and RSS at the start and end of
// the measured window, and finally prints one table (and writes --json).

import { mkdir, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import os from "node:os";
import { Command, Option } from "commander";
import { LineChild, serverSample } from "./child.js";
import { aggregate, renderTable, unitOf, type Measurement, type SystemInfo } from "./report.js";
import { loadSystem, SYSTEM_NAMES } from "./systems/index.js";
import { REQUEST_STREAM_WORKLOADS, type Program, type WorkloadKind } from "./system.js";
import { renderChart } from "./chart.js";
import { MESSAGE_SETS, unaryPayloadBytes, type MessageSet } from "./messages.js";
import { measurementKey, WORKLOAD_SETS, WORKLOADS, type LoadResult, type MeasurementSpec } from "./workloads.js";

const list = (value: string): string[] =>
  value
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
const positiveNumber = (value: string): number => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`not a positive number: ${value}`);
  return n;
};
const positiveInt = (value: string): number => {
  const n = positiveNumber(value);
  if (!Number.isInteger(n)) throw new Error(`not a positive integer: ${value}`);
  return n;
};

const program = new Command()
  .name("bench")
  .description(
    "protosocket-ts against grpc-js, connect-node, Thrift and a raw-TCP ceiling; servers and load generator in separate processes over 127.0.0.1",
  )
  .option("--duration <seconds>", "measured seconds per measurement", positiveNumber, 3)
  .option("--warmup <seconds>", "warm-up seconds before each measurement (not measured)", positiveNumber, 1)
  .option("--rounds <n>", "rounds; systems are interleaved within each round", positiveInt, 3)
  .option("--concurrency <list>", "calls in flight for unary", (v) => list(v).map(positiveInt), [1, 32, 256])
  .option("--systems <list>", `systems, in table order (known: ${SYSTEM_NAMES.join(",")})`, list, [...SYSTEM_NAMES])
  .option("--workloads <list>", `workloads (${WORKLOADS.join(",")}; unary-small means unary)`, list, [...WORKLOADS])
  .option("--messages <list>", `message sets (${MESSAGE_SETS.join(",")})`, list, [...MESSAGE_SETS])
  .option("--large-concurrency <n>", "calls in flight for unary-64k", positiveInt, 32)
  .option("--connect-concurrency <n>", "connections being opened at once for connect-rate", positiveInt, 4)
  .option("--stream-count <n>", "messages in the measured stream", positiveInt, 1_000_000)
  .option(
    "--pingpong-concurrency <list>",
    "bidi calls ping-ponging at once, on one connection, for bidi-pingpong",
    (v) => list(v).map(positiveInt),
    [1, 32],
  )
  .option("--json <file>", "write every measurement and the summary as JSON")
  .option("--svg <file>", "write a chart of rates and ratios (SVG)")
  .option("--profile <dir>", "run every child with node --cpu-prof, profiles written to this directory")
  .option("--quick", "smoke run: 1 round, 2 s, 0.5 s warm-up, 200,000 streamed messages (explicit flags win)")
  .addOption(new Option("--host <host>", "address the servers listen on").default("127.0.0.1").hideHelp());

interface Options {
  duration: number;
  warmup: number;
  rounds: number;
  concurrency: number[];
  systems: string[];
  workloads: string[];
  messages: string[];
  largeConcurrency: number;
  connectConcurrency: number;
  streamCount: number;
  pingpongConcurrency: number[];
  json?: string;
  svg?: string;
  profile?: string;
  quick?: boolean;
  host: string;
}

program.parse();
const options = program.opts<Options>();
if (options.quick) {
  const fromDefault = (name: string) => program.getOptionValueSource(name) !== "cli";
  if (fromDefault("rounds")) options.rounds = 1;
  if (fromDefault("duration")) options.duration = 2;
  if (fromDefault("warmup")) options.warmup = 0.5;
  if (fromDefault("streamCount")) options.streamCount = 200_000;
}
options.workloads = options.workloads.map((w) => (w === "unary-small" ? "unary" : w));
for (const w of options.workloads) {
  if (!(WORKLOADS as readonly string[]).includes(w)) program.error(`unknown workload "${w}" (known: ${WORKLOADS.join(", ")})`);
}
for (const m of options.messages) {
  if (!(MESSAGE_SETS as readonly string[]).includes(m)) program.error(`unknown message set "${m}" (known: ${MESSAGE_SETS.join(", ")})`);
}
for (const s of options.systems) {
  if (!SYSTEM_NAMES.includes(s)) program.error(`unknown system "${s}" (known: ${SYSTEM_NAMES.join(", ")})`);
}

/** Node flags of a child: with --profile, a CPU profile named after the measurement and the role. */
const nodeArgs = (label: string, role: "server" | "client"): string[] =>
  options.profile !== undefined ? ["--cpu-prof", "--cpu-prof-dir", options.profile, "--cpu-prof-name", `${label}.${role}.cpuprofile`] : [];
const log = (line: string) => process.stderr.write(`${line}\n`);

interface Step {
  workload: WorkloadKind;
  set: MessageSet;
  concurrency: number;
  payloadBytes: number;
}

/** The measurements of one round, in order: message set by message set, then connections. */
function plan(): Step[] {
  const out: Step[] = [];
  const sets = MESSAGE_SETS.filter((m) => options.messages.includes(m));
  for (const set of sets) {
    for (const workload of options.workloads as WorkloadKind[]) {
      if (!WORKLOAD_SETS[workload].includes(set)) continue;
      if (workload === "unary") {
        for (const c of options.concurrency) out.push({ workload, set, concurrency: c, payloadBytes: unaryPayloadBytes(set, false) });
      } else if (workload === "unary-64k") {
        out.push({ workload, set, concurrency: options.largeConcurrency, payloadBytes: unaryPayloadBytes(set, true) });
      } else if (workload === "stream") {
        out.push({ workload, set, concurrency: 1, payloadBytes: 0 });
      } else if (workload === "client-stream") {
        out.push({ workload, set, concurrency: 1, payloadBytes: unaryPayloadBytes(set, false) });
      } else if (workload === "bidi-pingpong") {
        for (const c of options.pingpongConcurrency)
          out.push({ workload, set, concurrency: c, payloadBytes: unaryPayloadBytes(set, false) });
      } else {
        out.push({ workload, set, concurrency: options.connectConcurrency, payloadBytes: unaryPayloadBytes(set, false) });
      }
    }
  }
  return out;
}

interface Programs {
  server: string;
  serverCommand?: Program;
  loadgenCommand?: Program;
}

async function measure(
  programs: Programs,
  spec: Omit<MeasurementSpec, "port">,
  label: string,
): Promise<Omit<Measurement, "round" | "key">> {
  const server = new LineChild(
    programs.serverCommand ?? new URL(`./servers/${programs.server}.js`, import.meta.url),
    ["--port", "0", "--set", spec.set, "--workload", spec.workload],
    nodeArgs(label, "server"),
  );
  let loadgen: LineChild | undefined;
  try {
    const port = Number(await server.next("LISTENING ", 20_000));
    const full: MeasurementSpec = { ...spec, port };
    loadgen = new LineChild(
      programs.loadgenCommand ?? new URL("./loadgen.js", import.meta.url),
      ["--spec", JSON.stringify(full)],
      nodeArgs(label, "client"),
    );
    const budget = spec.workload === "stream" ? 600_000 : (spec.warmupSeconds + spec.durationSeconds) * 1000 + 60_000;
    await loadgen.next("READY", 30_000);
    await loadgen.next("MEASURE", budget);
    // The /proc half of a sample is taken at once; the server's own report may come late.
    const serverStartPending = serverSample(server);
    await loadgen.next("DONE", budget);
    const serverEnd = await serverSample(server);
    const serverStart = await serverStartPending;
    const client = JSON.parse(await loadgen.next("RESULT ", 30_000)) as LoadResult | { failed: string };
    if ("failed" in client) throw new Error(client.failed);
    return { spec: full, client, server: { start: serverStart, end: serverEnd } };
  } catch (error) {
    let message = (error as Error).message;
    if (loadgen !== undefined) {
      // The load generator's own account, when it gave one, says more than a missing line.
      const reported = await loadgen.next("RESULT ", 500).catch(() => undefined);
      if (reported !== undefined) message = (JSON.parse(reported) as { failed?: string }).failed ?? message;
    }
    return { spec: { ...spec, port: 0 }, error: message.replace(/\s*\n\s*/g, " | ").slice(0, 600) };
  } finally {
    if (loadgen !== undefined) {
      // It exits by itself after RESULT; give it time (a CPU profile is written at exit).
      const grace = options.profile !== undefined ? 60_000 : 5_000;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([loadgen.exit, new Promise((r) => (timer = setTimeout(r, grace)))]);
      clearTimeout(timer);
      if (loadgen.process.exitCode === null && loadgen.process.signalCode === null) loadgen.process.kill("SIGKILL");
    }
    await server.stop(options.profile !== undefined ? 60_000 : 3_000);
  }
}

function brief(m: Omit<Measurement, "round" | "key">): string {
  if (m.error !== undefined) return `failed: ${m.error}`;
  const c = m.client!;
  const unit = unitOf(m.spec.workload);
  const p99 = c.latencyUs !== null ? `, p99 ${c.latencyUs.p99} µs` : "";
  const errors = c.errors > 0 ? `, ${c.errors} errors (${c.firstError ?? "?"})` : "";
  return `${Math.round(c.rate).toLocaleString("en-US")} ${unit}${p99}${errors}`;
}

async function main(): Promise<void> {
  const systems: SystemInfo[] = [];
  const programsOf = new Map<string, Programs>();
  for (const name of options.systems) {
    const system = await loadSystem(name);
    const skipped = system.available === undefined ? undefined : await system.available();
    const unsupported: SystemInfo["unsupported"] = { ...system.unsupported };
    if (system.requestStreams !== true) {
      for (const w of REQUEST_STREAM_WORKLOADS)
        unsupported[w] ??= "no client-streaming and bidi workloads in this system (they are compared with grpc-js)";
    }
    const info: SystemInfo = { name, description: system.description, server: system.server, unsupported };
    const programs: Programs = { server: system.server };
    if (system.serverCommand !== undefined) programs.serverCommand = system.serverCommand();
    if (system.loadgenCommand !== undefined) programs.loadgenCommand = system.loadgenCommand();
    programsOf.set(name, programs);
    if (skipped !== undefined) {
      info.skipped = skipped;
      log(`${name}: skipped — ${skipped}`);
    }
    systems.push(info);
  }
  const active = systems.filter((s) => s.skipped === undefined);
  const steps = plan();
  const measurements: Measurement[] = [];
  const startedAt = new Date();
  log(
    `bench: ${options.rounds} round(s) × ${steps.length} workload(s) × ${active.length} system(s); ` +
      `${options.duration} s measured after ${options.warmup} s warm-up; stream of ${options.streamCount.toLocaleString("en-US")}`,
  );
  for (let round = 1; round <= options.rounds; round++) {
    for (const step of steps) {
      const key = measurementKey(step);
      for (const system of active) {
        if (system.unsupported[step.workload] !== undefined) continue;
        const result = await measure(
          programsOf.get(system.name) as Programs,
          {
            system: system.name,
            workload: step.workload,
            set: step.set,
            host: options.host,
            concurrency: step.concurrency,
            payloadBytes: step.payloadBytes,
            streamCount: options.streamCount,
            warmupSeconds: options.warmup,
            durationSeconds: options.duration,
          },
          `${system.name}.${key.replace(" ", ".").replace("@", "-")}.round${round}`,
        );
        measurements.push({ round, key, ...result });
        log(`[round ${round}/${options.rounds}] ${key.padEnd(26)} ${system.name.padEnd(18)} ${brief(result)}`);
      }
    }
  }

  const summary = aggregate(systems, steps.map(measurementKey), measurements);
  process.stdout.write(`\n${renderTable(systems, summary, { rounds: options.rounds, duration: options.duration })}\n`);
  const machine = `${os.cpus().length} cores (${os.cpus()[0]?.model ?? "?"}), node ${process.version}`;

  if (options.svg !== undefined) {
    const file = resolve(process.env.INIT_CWD ?? process.cwd(), options.svg);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, renderChart(systems, summary, { rounds: options.rounds, duration: options.duration, machine, date: startedAt }));
    log(`wrote ${file}`);
  }

  if (options.json !== undefined) {
    const cpus = os.cpus();
    const report = {
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      machine: {
        node: process.version,
        platform: `${os.platform()} ${os.release()}`,
        cpus: cpus.length,
        cpuModel: cpus[0]?.model ?? "?",
        totalMemory: os.totalmem(),
      },
      options,
      systems,
      summary,
      measurements,
    };
    // Relative to where `npm run bench` was started, not to the bench workspace.
    const file = resolve(process.env.INIT_CWD ?? process.cwd(), options.json);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
    log(`wrote ${file}`);
  }
}

await main();
