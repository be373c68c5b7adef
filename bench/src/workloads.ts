// What one measurement is, shared by the coordinator and the load generator.

import type { WorkloadKind } from "./system.js";

export const WORKLOADS: readonly WorkloadKind[] = ["unary-small", "unary-64k", "stream", "connect-rate", "client-stream", "bidi-pingpong"];

/** Payload bytes of `unary-small` (plus the 5-byte message "hello"). */
export const SMALL_PAYLOAD_BYTES = 16;
/** Payload bytes of `unary-64k`. */
export const LARGE_PAYLOAD_BYTES = 64 * 1024;

/** Everything the load generator needs to run one measurement. */
export interface MeasurementSpec {
  system: string;
  workload: WorkloadKind;
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

/** The row label of a measurement, e.g. `unary-small@256`. */
export function measurementKey(spec: Pick<MeasurementSpec, "workload" | "concurrency">): string {
  return spec.workload === "stream" || spec.workload === "client-stream" ? spec.workload : `${spec.workload}@${spec.concurrency}`;
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
  /** Calls/s, or messages/s for `stream` and `client-stream`, connections/s for `connect-rate`, round trips/s for `bidi-pingpong`. */
  rate: number;
  elapsedSeconds: number;
  errors: number;
  firstError?: string;
  /** Latency per call in µs (per connection for `connect-rate`, per round trip for `bidi-pingpong`); null for `stream` and `client-stream`. */
  latencyUs: LatencySummary | null;
  /** The HDR histogram of the window, compressed base64 (HdrHistogram's encoding). */
  histogram: string | null;
  /** process.cpuUsage() delta over the window, µs. */
  cpuUs: { user: number; system: number };
  rss: { start: number; end: number };
  heapUsed: { start: number; end: number };
}
