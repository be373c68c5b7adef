// What one measurement is, shared by the coordinator and the load generator.

import type { MessageSet } from "./messages.js";
import type { WorkloadKind } from "./system.js";

export const WORKLOADS: readonly WorkloadKind[] = ["unary", "unary-64k", "stream", "connect-rate", "client-stream", "bidi-pingpong"];

/** The message sets a workload runs with (64 KiB payloads need a payload; opening connections needs one set). */
export const WORKLOAD_SETS: Readonly<Record<WorkloadKind, readonly MessageSet[]>> = {
  unary: ["small", "realistic", "grpc"],
  "unary-64k": ["small", "grpc"],
  stream: ["small", "realistic", "grpc"],
  "connect-rate": ["small"],
  // The streaming service's Upload and Chat messages (src/systems/*-streams.ts).
  "client-stream": ["small"],
  "bidi-pingpong": ["small"],
};

/** Everything the load generator needs to run one measurement. */
export interface MeasurementSpec {
  system: string;
  workload: WorkloadKind;
  /** The message set (src/messages.ts). */
  set: MessageSet;
  host: string;
  port: number;
  /** Calls kept in flight (closed loop); 1 for `stream` and `client-stream`; bidi calls ping-ponging for `bidi-pingpong`. */
  concurrency: number;
  payloadBytes: number;
  /** Messages in the measured stream (`stream` only). */
  streamCount: number;
  warmupSeconds: number;
  durationSeconds: number;
}

/** The row label of a measurement, e.g. `realistic unary@256`. */
export function measurementKey(spec: Pick<MeasurementSpec, "workload" | "concurrency" | "set">): string {
  const oneCall = spec.workload === "stream" || spec.workload === "client-stream";
  return `${spec.set} ${oneCall ? spec.workload : `${spec.workload}@${spec.concurrency}`}`;
}

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** What the load generator reports (one JSON line `RESULT {...}`). */
export interface LoadResult {
  /** Completed calls (or streamed messages) inside the measured window. */
  operations: number;
  /** Calls/s, or messages/s for `stream`, or connections/s for `connect-rate`. */
  rate: number;
  elapsedSeconds: number;
  errors: number;
  firstError?: string;
  /** Latency per call in µs (per connection for `connect-rate`); null for `stream`. */
  latencyUs: LatencySummary | null;
  /** The HDR histogram of the window, compressed base64 (HdrHistogram's encoding). */
  histogram: string | null;
  /** process.cpuUsage() delta over the window, µs. */
  cpuUs: { user: number; system: number };
  rss: { start: number; end: number };
  heapUsed: { start: number; end: number };
}
