import type { BenchOutcome, ErrorCount, StopReason } from "./bench-run.js";
import type { LatencyBucket } from "./latency-histogram.js";

/** What was asked for, as the summary repeats it. */
export interface BenchSetup {
  readonly target: string;
  /** "pkg.Service/Method". */
  readonly method: string;
  readonly kind: "unary" | "server_streaming";
  readonly connections: number;
  readonly concurrency: number;
  readonly total?: number | undefined;
  readonly durationMs?: number | undefined;
  readonly warmupMs: number;
  readonly rate?: number | undefined;
}

/**
 * The `--json` summary of a bench run. Latencies are microseconds; the
 * histogram's `hdr` is the HDR histogram in its compressed base64 form.
 */
export interface BenchSummary {
  readonly target: string;
  readonly method: string;
  readonly kind: "unary" | "server_streaming";
  readonly connections: number;
  readonly concurrency: number;
  readonly requested: { readonly total?: number; readonly durationMs?: number; readonly warmupMs: number; readonly rate?: number };
  readonly stoppedBy: StopReason;
  readonly stopDetail?: string;
  readonly calls: { readonly ok: number; readonly failed: number };
  /** Response messages received (equals calls.ok for unary methods). */
  readonly messages: number;
  readonly elapsedMs: number;
  /** Successful calls per second of the measured window. */
  readonly callsPerSecond: number;
  readonly messagesPerSecond: number;
  readonly latencyUs: {
    readonly min: number;
    readonly mean: number;
    readonly p50: number;
    readonly p90: number;
    readonly p99: number;
    readonly p999: number;
    readonly max: number;
  };
  readonly histogram: { readonly buckets: LatencyBucket[]; readonly hdr: string | null };
  readonly errors: ErrorCount[];
}

/** The summary of a run. */
export function summarize(setup: BenchSetup, outcome: BenchOutcome): BenchSummary {
  const seconds = outcome.elapsedMs / 1000;
  const h = outcome.latency;
  const p = h.percentiles();
  const requested: { total?: number; durationMs?: number; warmupMs: number; rate?: number } = { warmupMs: setup.warmupMs };
  if (setup.total !== undefined) requested.total = setup.total;
  if (setup.durationMs !== undefined) requested.durationMs = setup.durationMs;
  if (setup.rate !== undefined) requested.rate = setup.rate;
  const summary: BenchSummary = {
    target: setup.target,
    method: setup.method,
    kind: setup.kind,
    connections: setup.connections,
    concurrency: setup.concurrency,
    requested,
    stoppedBy: outcome.stoppedBy,
    calls: { ok: outcome.ok, failed: outcome.failed },
    messages: outcome.messages,
    elapsedMs: round(outcome.elapsedMs, 1),
    callsPerSecond: seconds > 0 ? round(outcome.ok / seconds, 1) : 0,
    messagesPerSecond: seconds > 0 ? round(outcome.messages / seconds, 1) : 0,
    latencyUs: { min: h.minUs, mean: round(h.meanUs, 1), p50: p.p50, p90: p.p90, p99: p.p99, p999: p.p999, max: h.maxUs },
    histogram: { buckets: h.buckets(), hdr: h.count > 0 ? h.encoded() : null },
    errors: outcome.errors,
  };
  return outcome.stopDetail !== undefined ? { ...summary, stopDetail: outcome.stopDetail } : summary;
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

const int = (n: number) => Math.round(n).toLocaleString("en-US");

/** Microseconds as a person reads them. */
export function formatUs(us: number): string {
  if (us < 1000) return `${Math.round(us)} µs`;
  if (us < 100_000) return `${(us / 1000).toFixed(2)} ms`;
  if (us < 10_000_000) return `${Math.round(us / 1000).toLocaleString("en-US")} ms`;
  return `${(us / 1_000_000).toFixed(2)} s`;
}

/** A bucket edge of the 1-2-5 series: "500 µs", "2 ms", "1 s". */
function formatEdge(us: number): string {
  if (us < 1000) return `${us} µs`;
  if (us < 1_000_000) return `${us / 1000} ms`;
  return `${us / 1_000_000} s`;
}

const STOP_TEXT: Record<StopReason, string> = {
  count: "all calls done",
  duration: "duration reached",
  interrupted: "interrupted (Ctrl-C)",
  connection_lost: "a connection closed",
};

/** The report for people: summary, latency distribution and histogram, errors by code. */
export function renderSummary(s: BenchSummary, barWidth = 40): string {
  const lines: string[] = [];
  const stream = s.kind === "server_streaming";
  lines.push(
    `Summary: ${s.method} on ${s.target}, ${s.concurrency} in flight over ${s.connections} connection${s.connections === 1 ? "" : "s"}`,
  );
  lines.push(`  Calls:         ${int(s.calls.ok + s.calls.failed)} (${int(s.calls.ok)} ok, ${int(s.calls.failed)} failed)`);
  lines.push(
    `  Window:        ${(s.elapsedMs / 1000).toFixed(2)} s (${STOP_TEXT[s.stoppedBy]}${s.stopDetail !== undefined ? `: ${s.stopDetail}` : ""})`,
  );
  lines.push(`  Calls/s:       ${int(s.callsPerSecond)}`);
  if (stream) lines.push(`  Messages/s:    ${int(s.messagesPerSecond)} (${int(s.messages)} messages)`);
  if (s.calls.ok > 0) {
    lines.push(`  Fastest:       ${formatUs(s.latencyUs.min)}`);
    lines.push(`  Average:       ${formatUs(s.latencyUs.mean)}`);
    lines.push(`  Slowest:       ${formatUs(s.latencyUs.max)}`);
    lines.push("");
    lines.push("Latency distribution:");
    for (const [label, v] of [
      ["p50", s.latencyUs.p50],
      ["p90", s.latencyUs.p90],
      ["p99", s.latencyUs.p99],
      ["p99.9", s.latencyUs.p999],
    ] as const) {
      lines.push(`  ${label.padEnd(6)} ${formatUs(v)}`);
    }
    lines.push("");
    lines.push("Latency histogram:");
    const max = Math.max(...s.histogram.buckets.map((b) => b.count));
    const labels = s.histogram.buckets.map((b) => `${formatEdge(b.fromUs)} – ${formatEdge(b.toUs)}`);
    const labelWidth = Math.max(...labels.map((l) => l.length));
    const countWidth = Math.max(...s.histogram.buckets.map((b) => int(b.count).length));
    s.histogram.buckets.forEach((b, i) => {
      const bar = "■".repeat(b.count === 0 ? 0 : Math.max(1, Math.round((b.count / max) * barWidth)));
      lines.push(`  ${(labels[i] as string).padStart(labelWidth)}  ${int(b.count).padStart(countWidth)}  ${bar}`.trimEnd());
    });
  }
  lines.push("");
  lines.push("Status codes:");
  lines.push(`  [ok]  ${int(s.calls.ok)}`);
  for (const e of s.errors) lines.push(`  [${e.code}]  ${int(e.count)}  e.g. ${e.example}`);
  return lines.join("\n");
}
