// Medians over rounds, spread, ratios, and the table.

import type { ServerSample } from "./child.js";
import type { MessageSet } from "./messages.js";
import type { WorkloadKind } from "./system.js";
import type { LoadResult, MeasurementSpec } from "./workloads.js";

export interface SystemInfo {
  name: string;
  description: string;
  server: string;
  unsupported: Partial<Record<WorkloadKind, string>>;
  skipped?: string;
}

export interface Measurement {
  round: number;
  key: string;
  spec: MeasurementSpec;
  client?: LoadResult;
  server?: { start: ServerSample; end: ServerSample };
  error?: string;
}

export interface SummaryRow {
  system: string;
  key: string;
  workload: WorkloadKind;
  set: MessageSet;
  /** Rounds that produced a result. */
  rounds: number;
  /** Why there is no result: skipped system, unsupported workload, or the errors. */
  note?: string;
  /** Median calls/s (messages/s for stream, connections/s for connect-rate) over rounds. */
  rate?: number;
  /** (max − min) / median of the rate over rounds, in %. */
  spreadPct?: number;
  /** Latency percentiles in µs, each the median over rounds. */
  p50Us?: number;
  p99Us?: number;
  p999Us?: number;
  /** CPU µs per operation (user + system), median over rounds. */
  clientCpuUsPerOp?: number;
  serverCpuUsPerOp?: number;
  /** RSS in bytes at start and end of the window, median over rounds. */
  clientRss?: { start: number; end: number };
  serverRss?: { start: number; end: number };
  /** Errors inside measured windows, summed over rounds. */
  errors: number;
  /** The longest the server took to answer a STATS line during a window (a starved event loop). */
  maxServerReportDelayMs?: number;
  /** rate / the reference's rate for the same workload. */
  ratios: Record<string, number | undefined>;
}

/** A server that takes this long to answer STATS is noted under the table. */
const STARVED_MS = 100;

export const RATIO_REFERENCES = ["grpc-js", "thrift", "raw", "protosocket"] as const;

/** The message set and workload of a measurement key ("realistic unary@256"). */
export function parseKey(key: string): { set: MessageSet; workload: WorkloadKind } {
  const [set, rest] = key.split(" ") as [MessageSet, string];
  return { set, workload: (rest.split("@")[0] ?? rest) as WorkloadKind };
}

/** Pairs of systems that differ only in the server: [ours, Rust's, the client they share]. */
export const SERVER_PAIRS: readonly (readonly [string, string, string])[] = [
  ["protosocket", "rust-server", "our client"],
  ["rust-client", "rust", "the Rust client"],
];

export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Server CPU over the window: from /proc (sampled the moment the window starts and ends)
 * when both samples have it, else from the server's own reports, which a busy event loop
 * may answer late.
 */
export function serverCpuUs(start: ServerSample, end: ServerSample): number {
  if (start.proc !== undefined && end.proc !== undefined) return end.proc.cpuUs - start.proc.cpuUs;
  const a = start.reported;
  const b = end.reported;
  return b.cpuUserUs - a.cpuUserUs + b.cpuSystemUs - a.cpuSystemUs;
}

function serverRss(sample: ServerSample): number {
  return sample.proc?.rss ?? sample.reported.rss;
}

export function aggregate(systems: readonly SystemInfo[], keys: readonly string[], measurements: readonly Measurement[]): SummaryRow[] {
  const rows: SummaryRow[] = [];
  for (const key of keys) {
    for (const system of systems) {
      const mine = measurements.filter((m) => m.key === key && m.spec.system === system.name);
      const { set, workload } = parseKey(key);
      const row: SummaryRow = { system: system.name, key, workload, set, rounds: 0, errors: 0, ratios: {} };
      if (system.skipped !== undefined) row.note = `skipped: ${system.skipped}`;
      else if (system.unsupported[workload] !== undefined) row.note = `n/a: ${system.unsupported[workload]}`;
      const ok = mine.filter((m) => m.client !== undefined && m.client.operations > 0);
      row.errors = mine.reduce((sum, m) => sum + (m.client?.errors ?? 0), 0);
      const failures = mine.filter((m) => m.error !== undefined).map((m) => m.error!);
      if (ok.length === 0) {
        if (row.note === undefined)
          row.note = failures[0] !== undefined ? `failed: ${failures[0]}` : (mine[0]?.client?.firstError ?? "no result");
        rows.push(row);
        continue;
      }
      if (failures.length > 0) row.note = `${failures.length} round(s) failed: ${failures[0]}`;
      const clients = ok.map((m) => m.client!);
      const rates = clients.map((c) => c.rate);
      row.rounds = ok.length;
      row.rate = median(rates)!;
      row.spreadPct = row.rate > 0 ? ((Math.max(...rates) - Math.min(...rates)) / row.rate) * 100 : 0;
      const latencies = clients.flatMap((c) => (c.latencyUs === null ? [] : [c.latencyUs]));
      if (latencies.length > 0) {
        row.p50Us = median(latencies.map((l) => l.p50))!;
        row.p99Us = median(latencies.map((l) => l.p99))!;
        row.p999Us = median(latencies.map((l) => l.p999))!;
      }
      row.clientCpuUsPerOp = median(clients.map((c) => (c.cpuUs.user + c.cpuUs.system) / c.operations))!;
      row.serverCpuUsPerOp = median(ok.map((m) => serverCpuUs(m.server!.start, m.server!.end) / m.client!.operations))!;
      row.maxServerReportDelayMs = Math.max(...ok.map((m) => Math.max(m.server!.start.reportDelayMs, m.server!.end.reportDelayMs)));
      row.clientRss = { start: median(clients.map((c) => c.rss.start))!, end: median(clients.map((c) => c.rss.end))! };
      row.serverRss = { start: median(ok.map((m) => serverRss(m.server!.start)))!, end: median(ok.map((m) => serverRss(m.server!.end)))! };
      rows.push(row);
    }
  }
  for (const row of rows) {
    for (const reference of RATIO_REFERENCES) {
      const ref = rows.find((r) => r.key === row.key && r.system === reference);
      row.ratios[reference] = row.rate !== undefined && ref?.rate !== undefined && ref.rate > 0 ? row.rate / ref.rate : undefined;
    }
  }
  return rows;
}

const int = (n: number | undefined): string => (n === undefined ? "—" : Math.round(n).toLocaleString("en-US"));
const fixed = (n: number | undefined, digits: number): string => (n === undefined ? "—" : n.toFixed(digits));
const ratio = (n: number | undefined): string => (n === undefined ? "—" : `${n >= 10 ? n.toFixed(1) : n.toFixed(2)}×`);
const mb = (r: { start: number; end: number } | undefined): string =>
  r === undefined ? "—" : `${Math.round(r.start / 2 ** 20)}→${Math.round(r.end / 2 ** 20)}`;

export function unitOf(workload: WorkloadKind): string {
  if (workload === "bidi-pingpong") return "round trips/s";
  return workload === "stream" || workload === "client-stream" ? "msgs/s" : workload === "connect-rate" ? "conns/s" : "calls/s";
}

export function renderTable(
  systems: readonly SystemInfo[],
  rows: readonly SummaryRow[],
  run: { rounds: number; duration: number },
): string {
  const header = [
    "workload",
    "system",
    "rate",
    "spread",
    "p50 µs",
    "p99 µs",
    "p99.9 µs",
    "cli µs/op",
    "srv µs/op",
    ...RATIO_REFERENCES.map((r) => `×${r}`),
    "cli RSS MB",
    "srv RSS MB",
  ];
  const right = new Set([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  const table: string[][] = [header];
  const notes: string[] = [];
  let previousKey = "";
  for (const row of rows) {
    const skippedSystem = systems.find((s) => s.name === row.system)?.skipped !== undefined;
    if (skippedSystem) continue; // listed once below the table
    const label = row.key === previousKey ? "" : row.key;
    previousKey = row.key;
    if (row.rate === undefined) {
      table.push([label, row.system, row.note ?? "no result"]);
      continue;
    }
    if (row.note !== undefined) notes.push(`${row.key} ${row.system}: ${row.note}`);
    if (row.errors > 0) notes.push(`${row.key} ${row.system}: ${row.errors} call(s) failed inside measured windows`);
    if ((row.maxServerReportDelayMs ?? 0) >= STARVED_MS) {
      notes.push(
        `${row.key} ${row.system}: the server answered a stdin STATS line ${Math.round(row.maxServerReportDelayMs!)} ms late (its event loop was busy that long)`,
      );
    }
    table.push([
      label,
      row.system,
      `${int(row.rate)} ${unitOf(row.workload)}`,
      `${fixed(row.spreadPct, 0)}%`,
      int(row.p50Us),
      int(row.p99Us),
      int(row.p999Us),
      fixed(row.clientCpuUsPerOp, 1),
      fixed(row.serverCpuUsPerOp, 1),
      ...RATIO_REFERENCES.map((r) => ratio(row.ratios[r])),
      mb(row.clientRss),
      mb(row.serverRss),
    ]);
  }
  const widths = header.map((_, i) => Math.max(...table.filter((r) => r.length === header.length || i < 2).map((r) => r[i]!.length)));
  const lines = table.map((cells) => {
    if (cells.length !== header.length) return `${cells[0]!.padEnd(widths[0]!)}  ${cells[1]!.padEnd(widths[1]!)}  ${cells[2]}`;
    return cells.map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ");
  });
  lines.splice(1, 0, widths.map((w) => "-".repeat(w)).join("  "));
  const footer = [
    `medians over ${run.rounds} round(s) of ${run.duration} s (stream: one stream per round; client-stream: one upload for the window); spread = (max − min) / median of the rate;`,
    "latency = median over rounds of each round's HDR percentile; CPU = (user + system) µs per call, message or connection;",
    "RSS = resident set size at the start → end of the measured window (median over rounds). Compare only within one run.",
  ];
  for (const s of systems) if (s.skipped !== undefined) footer.push(`${s.name}: skipped — ${s.skipped}`);
  return [...lines, "", ...footer, ...serverComparison(rows), ...notes].join("\n");
}

/** Our server against the Rust server, with the same client: rate and server CPU per call. */
export function serverComparison(rows: readonly SummaryRow[]): string[] {
  const out: string[] = [];
  for (const [ours, theirs, client] of SERVER_PAIRS) {
    for (const row of rows) {
      if (row.system !== ours || row.rate === undefined) continue;
      const other = rows.find((r) => r.key === row.key && r.system === theirs);
      if (other?.rate === undefined) continue;
      const cpu =
        row.serverCpuUsPerOp !== undefined && other.serverCpuUsPerOp !== undefined && other.serverCpuUsPerOp > 0
          ? row.serverCpuUsPerOp / other.serverCpuUsPerOp
          : undefined;
      if (out.length === 0)
        out.push("", "our server / the Rust protosocket-rpc server, same client and messages (rate ratio; server CPU per call ratio):");
      out.push(
        `  ${row.key.padEnd(24)} with ${client}: ${ratio(row.rate / other.rate)} the rate; ${cpu === undefined ? "—" : `${ratio(cpu)} the CPU per call`} (${fixed(row.serverCpuUsPerOp, 2)} vs ${fixed(other.serverCpuUsPerOp, 2)} µs)`,
      );
    }
  }
  return out;
}
