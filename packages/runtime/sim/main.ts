/**
 * The fleet simulation: `npm run sim -- --clients 1000 --servers 1000`.
 * Prints markdown tables (docs/deploy.md quotes them).
 */
import { parseArgs } from "node:util";
import { membership, outage, rollingRestart, type Scale, slowServers, steadyState, type CallResult } from "./scenarios.js";
import { compare, STRATEGIES } from "./strategies.js";

const { values } = parseArgs({
  options: {
    clients: { type: "string", default: "1000" },
    servers: { type: "string", default: "1000" },
    subset: { type: "string", default: "20" },
    seconds: { type: "string", default: "20" },
    seed: { type: "string", default: "1" },
    only: { type: "string" },
  },
});

const scale: Scale = {
  clients: Number(values.clients),
  servers: Number(values.servers),
  subsetSize: Number(values.subset),
  seconds: Number(values.seconds),
  seed: Number(values.seed),
};
for (const [k, v] of Object.entries(scale)) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${k} must be a positive integer`);
}
const only = values.only?.split(",");
const run = (name: string) => only === undefined || only.includes(name);

const pct = (x: number, digits = 1) => `${(x * 100).toFixed(digits)} %`;
const ms = (x: number) => (x >= 1000 ? `${(x / 1000).toFixed(1)} s` : `${x.toFixed(0)} ms`);
const int = (x: number) => Math.round(x).toLocaleString("en-US");

function table(title: string, head: string[], rows: (string | number)[][]): void {
  console.log(`\n#### ${title}\n`);
  console.log(`| ${head.join(" | ")} |`);
  console.log(`| ${head.map(() => "---").join(" | ")} |`);
  for (const r of rows) console.log(`| ${r.join(" | ")} |`);
}

function timed<T>(what: string, f: () => T): T {
  const t = performance.now();
  const out = f();
  console.error(`${what}: ${((performance.now() - t) / 1000).toFixed(1)} s`);
  return out;
}

const calls = (r: CallResult) => [
  int(r.calls),
  r.attemptsPerCall.toFixed(4),
  int(r.failedIdempotent),
  int(r.failedOther),
  int(r.neverRanRetries),
  int(r.retries - r.neverRanRetries),
  int(r.ejections),
  ms(r.p99),
];
const callHead = [
  "calls",
  "attempts / call",
  "failed, idempotent",
  "failed, not idempotent",
  "retries, never ran",
  "retries, may have run",
  "ejections",
  "p99",
];

console.log(
  `Simulated: ${int(scale.clients)} clients × ${int(scale.servers)} servers, subset size ${scale.subsetSize}; servers serve 4 calls at once, exponential service times of 10 ms mean; ${int((scale.loadPerServer ?? 100) * scale.servers)} calls/s (25 % of capacity), half of them idempotent; windows of ${scale.seconds} simulated seconds (seed ${scale.seed}).`,
);

if (run("algorithms")) {
  const rows = timed("algorithms", () => STRATEGIES.map((s) => compare(s, scale.clients, scale.servers, scale.subsetSize ?? 20)));
  table(
    "Subsetting algorithms (expected load; one server leaving, then one joining)",
    [
      "algorithm",
      "connections / client, max",
      "connections / server, min–max",
      "load / mean, min–max",
      "leave: closed, opened",
      "join: closed, opened",
    ],
    rows.map((r) => [
      r.name,
      r.connectionsPerClientMax,
      `${r.connectionsPerServer.min}–${r.connectionsPerServer.max}`,
      `${r.load.min.toFixed(2)}–${r.load.max.toFixed(2)}`,
      `${pct(r.leave.closed, 2)}, ${pct(r.leave.opened, 2)}`,
      `${pct(r.join.closed, 2)}, ${pct(r.join.opened, 2)}`,
    ]),
  );
}

if (run("steady")) {
  const identities = scale.clients * scale.servers <= 250_000 ? (["index", "id", "none"] as const) : (["index", "id"] as const);
  const rows = identities.map((id) => timed(`steady ${id}`, () => steadyState(scale, id)));
  table(
    "Steady state",
    [
      "clients identified by",
      "connections / client, mean (max)",
      "connections / server, mean (min–max)",
      "load / mean, min–max",
      "calls",
      "p99",
    ],
    rows.map((r) => [
      r.identity === "index" ? "index and count (balanced)" : r.identity === "id" ? "id only" : "no subsetting",
      `${r.connectionsPerClient.mean.toFixed(1)} (${r.connectionsPerClient.max})`,
      `${r.connectionsPerServer.mean.toFixed(1)} (${r.connectionsPerServer.min}–${r.connectionsPerServer.max})`,
      `${r.load.min.toFixed(2)}–${r.load.max.toFixed(2)}`,
      int(r.calls),
      ms(r.p99),
    ]),
  );
}

if (run("restart")) {
  const r = timed("rolling restart", () => rollingRestart(scale));
  table("A rolling restart of every server (a twentieth at a time: drain, 1 s down, back)", callHead, [calls(r)]);
}

if (run("outage")) {
  const kinds = ["crash", "errors", "errors, ejected on errors"] as const;
  const rows = kinds.map((k) => [k, ...calls(timed(`outage ${k}`, () => outage(scale, k)))]);
  table("10 % of the servers failing (and staying down)", ["failure", ...callHead], rows);
}

if (run("slow")) {
  const rows = (["least-outstanding", "round-robin"] as const).map((p) => {
    const r = timed(`slow ${p}`, () => slowServers(scale, p));
    return [p, ms(r.p50), ms(r.p99), ms(r.p999), pct(r.slowShare, 0)];
  });
  table(
    "5 % of the servers 5 × slower (they can serve 80 % of an even share)",
    ["picker", "p50", "p99", "p99.9", "slow servers' load, of an even share"],
    rows,
  );
}

if (run("membership")) {
  const rows = timed("membership", () => membership(scale)).map((r) => [
    r.change === "leave" ? "one server leaves" : "one server joins",
    int(r.connections),
    `${int(r.closed)} (${pct(r.closed / r.connections, 2)})`,
    `${int(r.opened)} (${pct(r.opened / r.connections, 2)})`,
    pct(2 / scale.servers, 2),
    `${int(r.keysMoved)} of ${int(r.keys)} (${pct(r.keysMoved / r.keys, 2)})`,
    int(r.keysMovedElsewhere),
  ]);
  table(
    "Membership changes (every client takes the new answer within a second)",
    ["change", "connections", "closed", "opened", "2/N", "keys moved", "keys moved not to or from that server"],
    rows,
  );
}
