// The load generator: one process per measurement, started by the coordinator as
// `node dist/loadgen.js --spec '<MeasurementSpec JSON>'`. It connects, runs a closed
// loop (exactly `concurrency` calls in flight, each completion starting the next call),
// and prints on stdout:
//   READY              connected
//   MEASURE            warm-up over, the measured window starts (the coordinator samples the server)
//   DONE               the window is over (the coordinator samples the server again)
//   RESULT {json}      a LoadResult, or {"failed": message} when the measurement could not run

import { performance } from "node:perf_hooks";
import { Command } from "commander";
import * as hdr from "hdr-histogram-js";
import { loadSystem } from "./systems/index.js";
import type { BenchChat, BenchClient, System } from "./system.js";
import { expectedUnary } from "./messages.js";
import type { LoadResult, MeasurementSpec } from "./workloads.js";

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

class ClosedLoop {
  readonly histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 });
  operations = 0;
  errors = 0;
  firstError: string | undefined;
  private measuring = false;
  private running = false;
  private inFlight = 0;
  private drained: (() => void) | undefined;

  constructor(
    private readonly concurrency: number,
    private readonly call: () => Promise<unknown>,
  ) {}

  start(): void {
    this.running = true;
    for (let i = 0; i < this.concurrency; i++) this.launch();
  }

  /** Starts counting (after the warm-up). */
  measure(): void {
    this.histogram.reset();
    this.operations = 0;
    this.errors = 0;
    this.measuring = true;
  }

  /** Stops counting and starting calls; resolves when the calls in flight are done. */
  stop(): Promise<void> {
    this.measuring = false;
    this.running = false;
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise<void>((resolve) => (this.drained = resolve));
  }

  private launch(): void {
    this.inFlight++;
    const started = performance.now();
    this.call().then(
      () => this.complete(started, undefined),
      (error: unknown) => this.complete(started, error),
    );
  }

  private complete(started: number, error: unknown): void {
    this.inFlight--;
    if (error !== undefined) {
      this.errors++;
      this.firstError ??= error instanceof Error ? error.message : String(error);
      // A system that only fails would spin: give up, the report shows the error.
      if (this.errors > 1000 && this.errors > this.operations) this.running = false;
    } else if (this.measuring) {
      this.operations++;
      this.histogram.recordValue(Math.max(1, Math.round((performance.now() - started) * 1000)));
    }
    if (this.running) this.launch();
    else if (this.inFlight === 0) this.drained?.();
  }
}

interface Sample {
  cpu: NodeJS.CpuUsage;
  rss: number;
  heapUsed: number;
  at: number;
}

function sample(): Sample {
  const memory = process.memoryUsage();
  return { cpu: process.cpuUsage(), rss: memory.rss, heapUsed: memory.heapUsed, at: performance.now() };
}

function result(
  start: Sample,
  end: Sample,
  loop: ClosedLoop | undefined,
  operations: number,
  errors: number,
  firstError: string | undefined,
): LoadResult {
  const elapsedSeconds = (end.at - start.at) / 1000;
  const h = loop?.histogram;
  const latency =
    h !== undefined && h.totalCount > 0
      ? {
          p50: h.getValueAtPercentile(50),
          p90: h.getValueAtPercentile(90),
          p99: h.getValueAtPercentile(99),
          p999: h.getValueAtPercentile(99.9),
          max: h.maxValue,
          mean: Math.round(h.mean),
        }
      : null;
  const out: LoadResult = {
    operations,
    rate: operations / elapsedSeconds,
    elapsedSeconds,
    errors,
    latencyUs: latency,
    histogram: h !== undefined && h.totalCount > 0 ? hdr.encodeIntoCompressedBase64(h) : null,
    cpuUs: { user: end.cpu.user - start.cpu.user, system: end.cpu.system - start.cpu.system },
    rss: { start: start.rss, end: end.rss },
    heapUsed: { start: start.heapUsed, end: end.heapUsed },
  };
  if (firstError !== undefined) out.firstError = firstError;
  return out;
}

async function runClosedLoop(spec: MeasurementSpec, call: () => Promise<unknown>): Promise<LoadResult> {
  const loop = new ClosedLoop(spec.concurrency, call);
  loop.start();
  await sleep(spec.warmupSeconds * 1000);
  loop.measure();
  const start = sample();
  say("MEASURE");
  await sleep(spec.durationSeconds * 1000);
  const operations = loop.operations;
  const errors = loop.errors;
  const end = sample();
  say("DONE");
  await loop.stop();
  return result(start, end, loop, operations, errors, loop.firstError);
}

async function runStream(spec: MeasurementSpec, client: BenchClient): Promise<LoadResult> {
  const warmup = Math.max(10_000, Math.floor(spec.streamCount / 5));
  const warmed = await client.stream(spec.set, warmup);
  if (warmed !== warmup) throw new Error(`warm-up stream delivered ${warmed} of ${warmup} messages`);
  const start = sample();
  say("MEASURE");
  let received = 0;
  let error: string | undefined;
  try {
    received = await client.stream(spec.set, spec.streamCount);
  } catch (e) {
    error = (e as Error).message;
  }
  const end = sample();
  say("DONE");
  if (error === undefined && received !== spec.streamCount) error = `stream delivered ${received} of ${spec.streamCount} messages`;
  return result(start, end, undefined, received, error === undefined ? 0 : 1, error);
}

/** `client-stream`: an upload for the warm-up time, then one measured upload for the measured time. */
async function runUpload(spec: MeasurementSpec, client: BenchClient): Promise<LoadResult> {
  const upload = client.upload;
  if (upload === undefined) throw new Error(`${spec.system} has no upload()`);
  const timed = (seconds: number) => {
    let stop = false;
    const timer = setTimeout(() => (stop = true), seconds * 1000);
    return upload.call(client, () => stop).finally(() => clearTimeout(timer));
  };
  const warmed = await timed(spec.warmupSeconds);
  if (warmed === 0) throw new Error("the warm-up upload delivered nothing");
  const start = sample();
  say("MEASURE");
  let received = 0;
  let error: string | undefined;
  try {
    received = await timed(spec.durationSeconds);
  } catch (e) {
    error = (e as Error).message;
  }
  const end = sample();
  say("DONE");
  return result(start, end, undefined, received, error === undefined ? 0 : 1, error);
}

/** `bidi-pingpong@N`: N bidi calls on one connection, each a closed loop of one message out, its answer back. */
async function runPingPong(spec: MeasurementSpec, client: BenchClient): Promise<LoadResult> {
  const openChat = client.openChat;
  if (openChat === undefined) throw new Error(`${spec.system} has no openChat()`);
  const chats: BenchChat[] = [];
  for (let i = 0; i < spec.concurrency; i++) chats.push(await openChat.call(client));
  // Each round trip in flight holds one chat; there are as many chats as round trips in flight.
  const free = [...chats];
  try {
    return await runClosedLoop(spec, async () => {
      const chat = free.pop();
      if (chat === undefined) throw new Error("no free chat");
      try {
        await chat.roundTrip();
      } finally {
        free.push(chat);
      }
    });
  } finally {
    await Promise.all(chats.map((c) => c.close().catch(() => {})));
  }
}

async function run(spec: MeasurementSpec): Promise<LoadResult> {
  const system: System = await loadSystem(spec.system);
  const payload = new Uint8Array(spec.payloadBytes).fill(0x61);
  const target = { host: spec.host, port: spec.port, set: spec.set };
  const set = spec.set;
  const expected = expectedUnary(set, spec.payloadBytes);
  const check = (got: number) => {
    if (got !== expected) throw new Error(`${set} unary call answered ${got}, expected ${expected}`);
  };

  if (spec.workload === "connect-rate") {
    say("READY");
    return runClosedLoop(spec, async () => {
      const client = await system.connect(target);
      try {
        check(await client.unary(set, payload));
      } finally {
        await client.close();
      }
    });
  }

  const client = await system.connect(target);
  say("READY");
  try {
    if (spec.workload === "stream") return await runStream(spec, client);
    if (spec.workload === "client-stream") return await runUpload(spec, client);
    if (spec.workload === "bidi-pingpong") return await runPingPong(spec, client);
    return await runClosedLoop(spec, async () => check(await client.unary(set, payload)));
  } finally {
    await Promise.race([client.close(), sleep(2000)]);
  }
}

const options = new Command().requiredOption("--spec <json>", "the MeasurementSpec").parse().opts<{ spec: string }>();
try {
  const outcome = await run(JSON.parse(options.spec) as MeasurementSpec);
  say(`RESULT ${JSON.stringify(outcome)}`);
  process.exit(0);
} catch (error) {
  say(`RESULT ${JSON.stringify({ failed: (error as Error).stack ?? String(error) })}`);
  process.exit(1);
}
