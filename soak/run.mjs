#!/usr/bin/env node
// Soak test: minutes of mixed load against a server in its own
// process — unary calls, streams, cancellations, deadlines, disconnects and
// reconnects, and a trickle of hostile connections — with every call entered
// in a ledger until it settles.
//
//   npm run soak                      # 2 minutes
//   npm run soak -- --duration 30s    # or 90, 2m …
//   flags: --duration, --warmup, --connections, --concurrency, --disconnect-every (ms)
//
// Reports calls done, outcomes by kind and by code, lost calls (calls that
// never settled: must be 0), unexpected outcomes (must be 0), and the server's
// RSS and heap (after a full GC) at start, after the warm-up, and at the end.
// Exits 1 when a call was lost, an outcome was unexpected, a handler leaked,
// or the server's heap grew by 10% or more after the warm-up.
// Uses the built runtime and generated tree (gen): `npm run build` first (the npm script does).
import { fork } from "node:child_process";
import { connect as netConnect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { Code, codeToString, connect, createClient, RpcError } from "@protosocket/runtime";
import { EchoServiceDefinition } from "@protosocket/gen/echo/v1/echo_protosocket.js";

// ---------------------------------------------------------------- options

function seconds(text, name) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(String(text).trim());
  if (m === null) throw new Error(`--${name}: expected a duration such as 120, 90s or 2m, got "${text}"`);
  const n = Number(m[1]);
  return m[2] === "m" ? n * 60 : m[2] === "ms" ? n / 1000 : n;
}
function positive(text, name) {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: expected a positive integer, got "${text}"`);
  return n;
}

const { values: flags } = parseArgs({
  options: {
    duration: { type: "string", default: "120" },
    warmup: { type: "string" },
    connections: { type: "string", default: "8" },
    concurrency: { type: "string", default: "24" },
    "disconnect-every": { type: "string", default: "1500" },
  },
});
const durationS = seconds(flags.duration, "duration");
const warmupS = flags.warmup !== undefined ? seconds(flags.warmup, "warmup") : Math.min(20, durationS / 4);
const connections = positive(flags.connections, "connections");
const concurrency = positive(flags.concurrency, "concurrency");
const disconnectEveryMs = positive(flags["disconnect-every"], "disconnect-every");

// ---------------------------------------------------------------- server process

const child = fork(new URL("./server.mjs", import.meta.url), [], {
  execArgv: ["--expose-gc"],
  stdio: ["ignore", "inherit", "inherit", "ipc"],
});
let requestId = 0;
const replies = new Map();
child.on("message", (msg) => {
  const f = replies.get(msg.id);
  if (f !== undefined) {
    replies.delete(msg.id);
    f(msg);
  }
});
child.on("exit", (code, signal) => {
  if (!closingServer) {
    console.error(`soak: the server process exited unexpectedly (code ${code}, signal ${signal})`);
    process.exit(2);
  }
});
let closingServer = false;
function ask(type, extra = {}) {
  const id = ++requestId;
  return new Promise((resolve) => {
    replies.set(id, resolve);
    child.send({ type, id, ...extra });
  });
}
const port = await new Promise((resolve, reject) => {
  child.once("message", (msg) => (msg.type === "listening" ? resolve(msg.port) : reject(new Error(`unexpected ${msg.type}`))));
  child.once("error", reject);
});
const serverStats = async (gc = true) => (await ask("stats", { gc })).stats;

// ---------------------------------------------------------------- ledger

const inFlight = new Map(); // call id → { op, startedAt }
let callIds = 0;
let settled = 0;
const outcomes = new Map(); // "op: outcome" → count
const errorsByCode = new Map(); // code name → count
const unexpected = [];
let unexpectedCount = 0;

function count(map, key) {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** An outcome that breaks the op's contract. */
class Unexpected extends Error {}

function isDisconnect(e) {
  // Calls on a connection this generator closed on purpose.
  return e instanceof RpcError && /transport closed by the client/.test(e.rawMessage);
}

async function track(op, run) {
  const id = ++callIds;
  inFlight.set(id, { op, startedAt: Date.now() });
  try {
    const label = await run();
    count(outcomes, `${op}: ${label}`);
  } catch (e) {
    if (e instanceof RpcError) count(errorsByCode, codeToString(e.code));
    if (isDisconnect(e)) {
      count(outcomes, `${op}: ${codeToString(e.code)} (our disconnect)`);
    } else {
      unexpectedCount++;
      count(outcomes, `${op}: UNEXPECTED ${e instanceof RpcError ? codeToString(e.code) : e?.name}`);
      if (unexpected.length < 20) unexpected.push(`${op}: ${e instanceof Error ? e.message : String(e)}`);
    }
  } finally {
    inFlight.delete(id);
    settled++;
  }
}

/** Runs `call`, which must fail with `code`; success is fine only when `mayFinish`. */
async function expectCode(code, call, mayFinish = false) {
  try {
    await call();
  } catch (e) {
    if (e instanceof RpcError && e.code === code) {
      count(errorsByCode, codeToString(e.code));
      return codeToString(code);
    }
    throw e;
  }
  if (mayFinish) return "ok (finished first)";
  throw new Unexpected(`expected ${codeToString(code)}, the call succeeded`);
}

// ---------------------------------------------------------------- load

const rand = (n) => Math.floor(Math.random() * n);
const slots = [];
let reconnects = 0;
let hostile = 0;
let stopping = false;
let gate; // a promise while the load is paused
let openGate;

for (let i = 0; i < connections; i++) {
  const transport = await connect({ port });
  slots.push({ transport, client: createClient(EchoServiceDefinition, transport) });
}

const ops = [
  [
    40,
    "echo",
    async ({ client }) => {
      const payload = new Uint8Array(rand(4097));
      for (let i = 0; i < payload.length; i += 97) payload[i] = rand(256);
      const message = `m${rand(1e9)}`;
      const r = await client.echo({ message, payload });
      if (r.message !== message || r.payload.length !== payload.length || r.payload.some((b, i) => b !== payload[i]))
        throw new Unexpected("echo answered something else");
      return "ok";
    },
  ],
  [
    10,
    "sleepy echo",
    async ({ client }) => {
      const r = await client.echo({ message: `sleep:${1 + rand(50)}` });
      if (!r.message.startsWith("sleep:")) throw new Unexpected("wrong answer");
      return "ok";
    },
  ],
  [
    8,
    "fail",
    async ({ client }) => {
      const code = 1 + rand(16);
      return expectCode(code, () => client.fail({ code, message: "as asked" }));
    },
  ],
  [
    15,
    "stream",
    async ({ client }) => {
      const want = 1 + rand(500);
      let n = 0;
      for await (const item of client.count({ count: want, payloadSize: rand(257) })) {
        if (item.n !== ++n) throw new Unexpected(`item ${n} carried n=${item.n}`);
      }
      if (n !== want) throw new Unexpected(`stream ended after ${n} of ${want} items`);
      return "ok";
    },
  ],
  [
    7,
    "stream left early",
    async ({ client }) => {
      const stopAt = 1 + rand(50);
      for await (const item of client.count({ count: 100_000, delayMs: rand(2) })) {
        if (item.n === stopAt) break;
      }
      return "ok (cancelled by the consumer)";
    },
  ],
  [
    7,
    "aborted echo",
    async ({ client }) => {
      const ac = new AbortController();
      setTimeout(() => ac.abort(), rand(20));
      return expectCode(Code.Cancelled, () => client.echo({ message: `sleep:${30 + rand(50)}` }, { signal: ac.signal }));
    },
  ],
  [
    6,
    "echo past its deadline",
    async ({ client }) => expectCode(Code.DeadlineExceeded, () => client.echo({ message: "sleep:200" }, { timeoutMs: 10 + rand(20) })),
  ],
  [
    7,
    "stream past its deadline",
    async ({ client }) =>
      expectCode(Code.DeadlineExceeded, async () => {
        for await (const _ of client.count({ count: 1000, delayMs: 2 }, { timeoutMs: 20 + rand(30) }));
      }),
  ],
];
const totalWeight = ops.reduce((n, [w]) => n + w, 0);
function pickOp() {
  let r = rand(totalWeight);
  for (const op of ops) {
    r -= op[0];
    if (r < 0) return op;
  }
  return ops[0];
}

async function worker() {
  while (!stopping) {
    if (gate !== undefined) {
      await gate;
      continue;
    }
    const [, name, run] = pickOp();
    const slot = slots[rand(slots.length)];
    await track(name, () => run(slot));
  }
}

async function disconnector() {
  while (!stopping) {
    await sleep(disconnectEveryMs / 2 + rand(disconnectEveryMs));
    if (stopping) break;
    if (gate !== undefined) {
      await gate;
      continue;
    }
    // Replace a connection, then drop the old one with its calls in flight.
    const i = rand(slots.length);
    const old = slots[i];
    try {
      const transport = await connect({ port });
      slots[i] = { transport, client: createClient(EchoServiceDefinition, transport) };
      reconnects++;
    } catch (e) {
      unexpectedCount++;
      unexpected.push(`reconnect: ${e.message}`);
    }
    old.transport.close();
  }
}

async function hostilePeer() {
  const garbage = [
    new Uint8Array([0x05, 0xff, 0xff, 0xff, 0xff, 0xff]),
    new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x08]),
    new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]),
  ];
  while (!stopping) {
    await sleep(1000 + rand(2000));
    if (stopping || gate !== undefined) continue;
    const sock = netConnect({ host: "127.0.0.1", port });
    sock.on("error", () => {});
    sock.once("connect", () => sock.write(garbage[rand(garbage.length)]));
    sock.once("close", () => sock.destroy());
    setTimeout(() => sock.destroy(), 2000).unref();
    hostile++;
  }
}

/** Stops issuing calls and waits until none is in flight; returns the release function. */
async function pause() {
  gate = new Promise((r) => (openGate = r));
  const t0 = Date.now();
  while (inFlight.size > 0 && Date.now() - t0 < 30_000) await sleep(10);
  return () => {
    const f = openGate;
    gate = undefined;
    f();
  };
}

// ---------------------------------------------------------------- run

const mib = (b) => `${(b / 1024 / 1024).toFixed(1)} MiB`;
const startStats = await serverStats();
const started = Date.now();
console.log(
  `soak: ${durationS} s (warm-up ${warmupS} s), ${connections} connections × ${concurrency} callers, a reconnect every ~${disconnectEveryMs} ms; ` +
    `server pid ${child.pid} on 127.0.0.1:${port}`,
);
const workers = [];
for (let i = 0; i < connections * concurrency; i++) workers.push(worker());
const background = [disconnector(), hostilePeer()];

const progress = setInterval(() => {
  const s = (Date.now() - started) / 1000;
  console.log(
    `  ${s.toFixed(0).padStart(4)} s  ${settled} calls settled (${Math.round(settled / s)}/s), ${inFlight.size} in flight, ${reconnects} reconnects, ${unexpectedCount} unexpected`,
  );
}, 10_000);

await sleep(warmupS * 1000);
let release = await pause();
const warmStats = await serverStats();
const warmSettled = settled;
release();
await sleep(Math.max(0, durationS * 1000 - (Date.now() - started)));

// Stop, and let every call in flight settle.
release = await pause();
stopping = true;
release();
await Promise.all(workers);
await Promise.all(background);
clearInterval(progress);
const elapsed = (Date.now() - started) / 1000;
const lost = [...inFlight.values()];
const endStats = await serverStats();

// Disconnect everything: the server must be left with no connection and no handler.
for (const { transport } of slots) transport.close();
let afterStats = await serverStats(false);
for (let i = 0; i < 200 && (afterStats.connections > 0 || afterStats.running > 0); i++) {
  await sleep(25);
  afterStats = await serverStats(false);
}
closingServer = true;
await ask("close");

// ---------------------------------------------------------------- report

const growth = (endStats.heapUsed - warmStats.heapUsed) / warmStats.heapUsed;
const row = (name, s) =>
  `  ${name.padEnd(16)} RSS ${mib(s.rss).padStart(10)}   heap ${mib(s.heapUsed).padStart(9)} (of ${mib(s.heapTotal)})   buffers ${mib(s.arrayBuffers)}`;
console.log(`\nsoak done in ${elapsed.toFixed(1)} s`);
console.log(`calls settled: ${settled} (${Math.round(settled / elapsed)}/s; ${settled - warmSettled} after the warm-up)`);
console.log(`lost calls (never settled): ${lost.length}${lost.length > 0 ? ` — ${JSON.stringify(lost.slice(0, 5))}` : ""}`);
console.log(`unexpected outcomes: ${unexpectedCount}`);
for (const u of unexpected) console.log(`  ${u}`);
console.log(`reconnects: ${reconnects}; hostile connections: ${hostile}`);
console.log("outcomes:");
for (const [k, n] of [...outcomes].sort()) console.log(`  ${k.padEnd(52)} ${n}`);
console.log("errors by code (client side):");
for (const [k, n] of [...errorsByCode].sort((a, b) => b[1] - a[1])) console.log(`  ${k.padEnd(20)} ${n}`);
console.log(
  `server: ${endStats.started} handlers started, ${endStats.finished} finished, ${endStats.aborted} aborted; ${endStats.yielded} stream items; ${endStats.handlerErrors} handler errors`,
);
console.log("server connection errors:");
for (const [k, n] of Object.entries(endStats.connectionErrors)) console.log(`  ${k.padEnd(80)} ${n}`);
console.log("server memory (after a full GC):");
console.log(row("start", startStats));
console.log(row("after warm-up", warmStats));
console.log(row("end", endStats));
console.log(`heap growth after the warm-up: ${(growth * 100).toFixed(1)}%`);
console.log(`after every client disconnected: ${afterStats.connections} connections, ${afterStats.running} handlers running`);

const failures = [];
if (lost.length > 0) failures.push(`${lost.length} calls lost`);
if (unexpectedCount > 0) failures.push(`${unexpectedCount} unexpected outcomes`);
if (growth >= 0.1) failures.push(`heap grew ${(growth * 100).toFixed(1)}% after the warm-up`);
if (afterStats.connections > 0 || afterStats.running > 0) failures.push("connections or handlers left on the server");
if (failures.length > 0) {
  console.log(`\nSOAK FAILED: ${failures.join("; ")}`);
  process.exit(1);
}
console.log("\nSOAK PASSED");
process.exit(0);
