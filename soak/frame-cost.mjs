#!/usr/bin/env node
// What one frame a peer chooses costs a server: for each case, a server in a
// process of its own receives one frame (or N frames) over TCP, and reports
// the longest time its event loop was held, how far its RSS rose above where
// it stood before the frame (the peak, from getrusage), and the memory still
// held after a full GC while the handler keeps the request. The longest task
// is wall time (it grows with the machine's load); the server's CPU time
// (user + system, from the frame's first byte to its outcome, the 1 ms probe
// included) depends less on the load.
//
//   npm run frame-cost                    # every case
//   npm run frame-cost -- metadata nested-msgpack
//
// The cases are the worst shapes we know for each cost: metadata entries,
// nested MessagePack arrays, deeply nested and merged protobuf messages, many
// small repeated fields, many unknown fields, and the memory of a call held
// open (unary and client streaming). This is a measurement, not a test: it
// prints numbers (docs/decisions.md quotes them) and asserts nothing.
// Uses the built packages: `npm run build` first (the npm script does).
import { execFileSync, fork } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync, readdirSync } from "node:fs";
import { connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { createServer } from "@protosocket/runtime";
import * as mp from "@protosocket/runtime/messagepack";
import { encodeFrame, serviceFromRegistry } from "@protosocket/runtime/protocol";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const MiB = 1024 * 1024;
/** The default frame limit; a case's frame fills it (prefix included). */
const FRAME = 4 * MiB;

// ---------------------------------------------------------------- the schemas

const COST_PROTO = `syntax = "proto3";
package cost.v1;
import "protosocket/v1/options.proto";
import "protosocket/v1/status.proto";

service CostService {
  option (protosocket.v1.envelope) = { request: "Request" response: "Response" };
  rpc Echo(Empty) returns (Empty);            // answers at once (the warm-up)
  rpc Hold(Payload) returns (Empty);          // holds its request until the process ends
  rpc Upload(stream Payload) returns (Empty); // reads its requests, never answers
}
message Empty {}
message Node { Node child = 1; uint32 value = 2; }
message Payload {
  Node node = 1;
  repeated uint32 numbers = 2;          // packed: a byte per element
  repeated Empty empties = 3;           // two bytes per element, an object each
  repeated string strings = 4;          // two bytes per element
  map<string, string> attributes = 5;
  bytes blob = 6;
}
message Request {
  uint64 message_id = 1;
  uint32 control_code = 2;
  oneof body { Payload hold = 3; Payload upload = 4; Empty echo = 5; }
  map<string, string> metadata = 8;
}
message Response {
  uint64 message_id = 1;
  uint32 control_code = 2;
  oneof body { Empty hold = 3; Empty upload = 4; Empty echo = 5; protosocket.v1.Status error = 15; }
  map<string, string> metadata = 8;
}
`;

/** Compiles cost.proto with the repository's buf; returns the service definition and its registry. */
function protobufService() {
  const dir = mkdtempSync(join(tmpdir(), "frame-cost-"));
  try {
    mkdirSync(join(dir, "cost/v1"), { recursive: true });
    mkdirSync(join(dir, "protosocket/v1"), { recursive: true });
    writeFileSync(join(dir, "cost/v1/cost.proto"), COST_PROTO);
    for (const f of readdirSync(join(root, "proto/protosocket/v1"))) {
      if (f.endsWith(".proto")) copyFileSync(join(root, "proto/protosocket/v1", f), join(dir, "protosocket/v1", f));
    }
    writeFileSync(join(dir, "buf.yaml"), "version: v2\n");
    execFileSync(join(root, "node_modules/.bin/buf"), ["build", "-o", join(dir, "image.binpb")], { cwd: dir, stdio: "inherit" });
    const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(join(dir, "image.binpb"))));
    const def = serviceFromRegistry(registry.getService("cost.v1.CostService"), registry);
    return { def, registry };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const MpEmpty = mp.struct("Empty", {});
const MpPayload = mp.struct("Payload", {
  numbers: mp.vec(mp.u32),
  empties: mp.vec(MpEmpty),
  strings: mp.vec(mp.string),
  attributes: mp.map(mp.string),
});
const MpStatus = mp.struct("Status", { code: mp.u32, message: mp.string });
// struct Request { request_id: u64, code: u32, body: Option<Body>, metadata: Option<HashMap<String, String>> }
const MpCostService = mp.defineMessagePackService({
  typeName: "cost.CostService",
  request: { name: "Request", fields: { request_id: "id", code: "code", body: "body", metadata: "metadata" } },
  response: { name: "Response", fields: { request_id: "id", code: "code", body: "body", metadata: "metadata" } },
  error: { schema: MpStatus },
  methods: { echo: mp.unary(MpPayload, MpEmpty), hold: mp.unary(MpPayload, MpEmpty) },
});

// ---------------------------------------------------------------- frame builders

/** Bytes of a protobuf varint. */
function varint(n) {
  const out = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

/** Concatenates byte chunks. */
function concat(chunks) {
  let size = 0;
  for (const c of chunks) size += c.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** A protobuf field of wire type 2 (tag, length, bytes). */
function lenField(no, bytes) {
  return concat([Uint8Array.from(varint(no * 8 + 2)), Uint8Array.from(varint(bytes.length)), bytes]);
}

/** Repeats `unit` until `budget` bytes (at most) are filled. */
function fill(unit, budget) {
  const n = Math.floor(budget / unit.length);
  const out = new Uint8Array(n * unit.length);
  for (let i = 0; i < n; i++) out.set(unit, i * unit.length);
  return out;
}

/** A protobuf request frame `id` carrying `payload` (Payload bytes) in the hold case, plus `extra` envelope bytes, of at most FRAME bytes. */
function protoFrame(id, payload, extra = new Uint8Array(0)) {
  const body = concat([Uint8Array.from([0x08, ...varint(id)]), lenField(3, payload), extra]);
  return encodeFrame(body, FRAME);
}

/** The room left for a payload in a frame of FRAME bytes (prefix, id, case tag and length). */
const ROOM = FRAME - 16;

/** Distinct metadata entries ("k<i>" → ""), as many as fit in `budget` bytes. */
function metadataEntries(budget) {
  const chunks = [];
  let size = 0;
  for (let i = 0; ; i++) {
    const key = new TextEncoder().encode(`k${i}`);
    const entry = lenField(8, concat([Uint8Array.from([0x0a, key.length]), key]));
    if (size + entry.length > budget) break;
    chunks.push(entry);
    size += entry.length;
  }
  return { bytes: concat(chunks), entries: chunks.length };
}

/** Distinct map entries of Payload.attributes ("a<i>" → ""). */
function attributeEntries(budget) {
  const chunks = [];
  let size = 0;
  for (let i = 0; ; i++) {
    const key = new TextEncoder().encode(`a${i}`);
    const entry = lenField(5, concat([Uint8Array.from([0x0a, key.length]), key]));
    if (size + entry.length > budget) break;
    chunks.push(entry);
    size += entry.length;
  }
  return concat(chunks);
}

/** `depth` nested Node messages, innermost empty. */
function nestedNode(depth) {
  let node = new Uint8Array(0);
  for (let i = 0; i < depth; i++) node = lenField(1, node);
  return node;
}

/** MessagePack helpers: an array header, a str. */
function mpArray(n) {
  return n < 16 ? [0x90 + n] : n < 0x10000 ? [0xdc, n >> 8, n & 0xff] : [0xdd, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
}
function mpMap(n) {
  return n < 16 ? [0x80 + n] : n < 0x10000 ? [0xde, n >> 8, n & 0xff] : [0xdf, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
}
function mpStr(s) {
  const b = new TextEncoder().encode(s);
  return [...(b.length < 32 ? [0xa0 + b.length] : [0xd9, b.length]), ...b];
}

/** A MessagePack frame: the u32 length prefix, then the body. */
function mpFrame(body) {
  const out = new Uint8Array(5 + body.length);
  out[0] = 0xce;
  new DataView(out.buffer).setUint32(1, body.length);
  out.set(body, 5);
  return out;
}

/** Request [id, 0, {variant: payload}, metadata] with a Payload of [numbers, empties, strings, attributes]. */
function mpRequest(id, variant, fields, metadata = [0xc0]) {
  const payload = concat([Uint8Array.from(mpArray(4)), ...fields]);
  return concat([Uint8Array.from([...mpArray(4), id, 0x00, 0x81, ...mpStr(variant)]), payload, Uint8Array.from(metadata)]);
}
const MP_EMPTY_VEC = Uint8Array.from([0x90]);
const MP_EMPTY_MAP = Uint8Array.from([0x80]);

// ---------------------------------------------------------------- the cases

/**
 * Each case: the encoding, how to build its frames, and what ends it: "answer" (the
 * server answers every frame), "close" (the server closes the connection),
 * "held" (N handlers run and hold their requests).
 */
const CASES = {
  metadata: {
    what: "a 4 MiB frame of distinct metadata entries (the issue's attack)",
    encoding: "protobuf",
    frames() {
      const { bytes, entries } = metadataEntries(ROOM - 8);
      return { frames: [protoFrame(1, new Uint8Array(0), bytes)], note: `${entries} entries` };
    },
    ends: "answer",
  },
  "metadata-at-limit": {
    what: "metadata at the default limits (128 entries, 16 KiB), held by the handler",
    encoding: "protobuf",
    frames() {
      const chunks = [];
      for (let i = 0; i < 128; i++) {
        const key = new TextEncoder().encode(`key-${String(i).padStart(3, "0")}`);
        const value = new Uint8Array(110).fill(0x61);
        chunks.push(lenField(8, concat([Uint8Array.from([0x0a, key.length]), key, Uint8Array.from([0x12, value.length]), value])));
      }
      const extra = concat(chunks);
      return { frames: [protoFrame(1, new Uint8Array(0), extra)], note: `${extra.length} bytes of metadata` };
    },
    ends: "held",
  },
  "nested-msgpack": {
    what: "MessagePack: 4 MiB of nested one-element arrays in a request body (the issue's attack)",
    encoding: "msgpack",
    frames() {
      const head = [0x93, 0x01, 0x00, 0x81, ...mpStr("Hold"), 0x92];
      const body = new Uint8Array(FRAME - 5).fill(0x91);
      body.set(head, 0);
      return { frames: [mpFrame(body)] };
    },
    ends: "close",
  },
  "nested-msgpack-unknown-field": {
    what: "MessagePack: a map-form envelope whose unknown field is 4 MiB of nested arrays",
    encoding: "msgpack",
    frames() {
      const head = [...mpMap(3), ...mpStr("request_id"), 0x01, ...mpStr("code"), 0x00, ...mpStr("junk")];
      const body = new Uint8Array(FRAME - 5).fill(0x91);
      body.set(head, 0);
      return { frames: [mpFrame(body)] };
    },
    ends: "close",
  },
  "nested-protobuf": {
    what: "protobuf: Payload.node 99 levels deep, repeated (each occurrence merges into the last) to 4 MiB",
    encoding: "protobuf",
    frames() {
      const chain = lenField(1, nestedNode(98));
      const payload = fill(chain, ROOM);
      return { frames: [protoFrame(1, payload)], note: `${payload.length / chain.length} chains of ${chain.length} bytes` };
    },
    ends: "held",
  },
  "nested-protobuf-101": {
    what: "protobuf: Payload.node 101 levels deep (past the recursion limit)",
    encoding: "protobuf",
    frames() {
      return { frames: [protoFrame(1, lenField(1, nestedNode(100)))] };
    },
    ends: "close",
  },
  "packed-varints": {
    what: "protobuf: 4 MiB of packed one-byte uint32s",
    encoding: "protobuf",
    frames() {
      return { frames: [protoFrame(1, lenField(2, new Uint8Array(ROOM - 8).fill(1)))] };
    },
    ends: "held",
  },
  "empty-messages": {
    what: "protobuf: repeated Empty, two bytes each",
    encoding: "protobuf",
    frames() {
      return { frames: [protoFrame(1, fill(Uint8Array.from([0x1a, 0x00]), ROOM))] };
    },
    ends: "held",
  },
  "empty-strings": {
    what: "protobuf: repeated string, empty, two bytes each",
    encoding: "protobuf",
    frames() {
      return { frames: [protoFrame(1, fill(Uint8Array.from([0x22, 0x00]), ROOM))] };
    },
    ends: "held",
  },
  "map-entries": {
    what: "protobuf: Payload.attributes with distinct keys",
    encoding: "protobuf",
    frames() {
      return { frames: [protoFrame(1, attributeEntries(ROOM))] };
    },
    ends: "held",
  },
  "unknown-fields": {
    what: "protobuf: unknown varint fields (field 100, value 0), three bytes each",
    encoding: "protobuf",
    frames() {
      return { frames: [protoFrame(1, fill(Uint8Array.from([0xa0, 0x06, 0x00]), ROOM))] };
    },
    ends: "held",
  },
  "unknown-fields-envelope": {
    what: "protobuf: unknown varint fields in the envelope (field 100), three bytes each",
    encoding: "protobuf",
    frames() {
      return { frames: [protoFrame(1, new Uint8Array(0), fill(Uint8Array.from([0xa0, 0x06, 0x00]), ROOM))] };
    },
    ends: "held",
  },
  "msgpack-vec-u32": {
    what: "MessagePack: Vec<u32> of one-byte integers",
    encoding: "msgpack",
    frames() {
      const n = FRAME - 64;
      const numbers = new Uint8Array(5 + n).fill(0x01);
      numbers.set(mpArray(n), 0);
      return { frames: [mpFrame(mpRequest(1, "Hold", [numbers, MP_EMPTY_VEC, MP_EMPTY_VEC, MP_EMPTY_MAP]))] };
    },
    ends: "held",
  },
  "msgpack-vec-empty-struct": {
    what: "MessagePack: Vec<Empty> (a struct of no fields: one byte, 0x90, each)",
    encoding: "msgpack",
    frames() {
      const n = FRAME - 64;
      const empties = new Uint8Array(5 + n).fill(0x90);
      empties.set(mpArray(n), 0);
      return { frames: [mpFrame(mpRequest(1, "Hold", [MP_EMPTY_VEC, empties, MP_EMPTY_VEC, MP_EMPTY_MAP]))] };
    },
    ends: "held",
  },
  "msgpack-map-entries": {
    what: "MessagePack: HashMap<String, String> with distinct keys",
    encoding: "msgpack",
    frames() {
      const entries = [];
      let size = 0;
      for (let i = 0; size < FRAME - 128; i++) {
        const e = Uint8Array.from([...mpStr(`a${i}`), 0xa0]);
        entries.push(e);
        size += e.length;
      }
      const map = concat([Uint8Array.from(mpMap(entries.length)), ...entries]);
      return {
        frames: [mpFrame(mpRequest(1, "Hold", [MP_EMPTY_VEC, MP_EMPTY_VEC, MP_EMPTY_VEC, map]))],
        note: `${entries.length} entries`,
      };
    },
    ends: "held",
  },
  "msgpack-metadata": {
    what: "MessagePack: a 4 MiB frame of distinct metadata entries",
    encoding: "msgpack",
    frames() {
      const entries = [];
      let size = 0;
      for (let i = 0; size < FRAME - 128; i++) {
        const e = Uint8Array.from([...mpStr(`k${i}`), 0xa0]);
        entries.push(e);
        size += e.length;
      }
      const metadata = concat([Uint8Array.from(mpMap(entries.length)), ...entries]);
      return {
        frames: [mpFrame(mpRequest(1, "Echo", [MP_EMPTY_VEC, MP_EMPTY_VEC, MP_EMPTY_VEC, MP_EMPTY_MAP], metadata))],
        note: `${entries.length} entries`,
      };
    },
    ends: "answer",
  },
  "held-unary": {
    what: "10,000 unary calls held open, small requests: memory per call",
    encoding: "protobuf",
    count: 10_000,
    frames() {
      const frames = [];
      for (let i = 1; i <= this.count; i++) frames.push(protoFrame(i, lenField(6, new Uint8Array(16))));
      return { frames };
    },
    ends: "held",
  },
  connections: {
    what: "2,000 connections, each after one call: memory per connection",
    encoding: "protobuf",
    connections: 2_000,
    frames() {
      return { frames: [encodeFrame(Uint8Array.from([0x08, 0x01, 0x2a, 0x00]), FRAME)] };
    },
    ends: "answer",
  },
  "open-client-streams": {
    what: "10,000 client streams left open after their first message: memory per call",
    encoding: "protobuf",
    count: 10_000,
    frames() {
      const frames = [];
      for (let i = 1; i <= this.count; i++) {
        const body = concat([Uint8Array.from([0x08, ...varint(i)]), lenField(4, lenField(6, new Uint8Array(16)))]);
        frames.push(encodeFrame(body, FRAME));
      }
      return { frames };
    },
    ends: "held",
  },
};

// ---------------------------------------------------------------- the server (child process)

async function serve(name) {
  const c = CASES[name];
  const held = [];
  let running = 0;
  const hold = (req) => {
    held.push(req);
    running++;
    if (running === (c.count ?? 1)) process.send({ type: "held" });
    return new Promise(() => {});
  };
  const server = createServer({ maxConcurrentCallsPerConnection: 100_000 });
  if (c.encoding === "protobuf") {
    const { def } = protobufService();
    server.register(def, {
      echo: () => ({}),
      hold,
      async upload(requests) {
        for await (const r of requests) {
          hold(r);
          await new Promise(() => {});
        }
      },
    });
  } else {
    server.register(MpCostService, { echo: () => ({}), hold });
  }
  const { port } = await server.listen();
  // Warm up: the code paths compiled and buffers allocated before measuring.
  const gap = { max: 0, last: performance.now() };
  const timer = setInterval(() => {
    const now = performance.now();
    gap.max = Math.max(gap.max, now - gap.last);
    gap.last = now;
  }, 1);
  let before;
  process.on("message", (m) => {
    if (m.type === "start") {
      globalThis.gc();
      globalThis.gc();
      const mem = process.memoryUsage();
      before = { rss: mem.rss, heap: mem.heapUsed + mem.external, cpu: process.cpuUsage() };
      gap.max = 0;
      gap.last = performance.now();
      process.send({ type: "started" });
    } else if (m.type === "report") {
      clearInterval(timer);
      const cpu = process.cpuUsage(before.cpu);
      const maxRss = process.resourceUsage().maxRSS * 1024;
      globalThis.gc();
      globalThis.gc();
      const mem = process.memoryUsage();
      process.send({
        type: "report",
        blockedMs: gap.max,
        cpuMs: (cpu.user + cpu.system) / 1000,
        peakRss: maxRss - before.rss,
        retained: mem.heapUsed + mem.external - before.heap,
        running,
        held: held.length,
      });
    }
  });
  process.send({ type: "port", port });
}

// ---------------------------------------------------------------- the driver

/** Runs one case in a fresh process; resolves with its report. */
async function measure(name) {
  const c = CASES[name];
  const { frames, note } = c.frames();
  const bytes = frames.reduce((n, f) => n + f.length, 0);
  const child = fork(fileURLToPath(import.meta.url), ["--serve", name], { execArgv: ["--expose-gc"], stdio: "inherit" });
  const messages = [];
  let wake;
  child.on("message", (m) => {
    messages.push(m);
    wake?.();
  });
  const next = async (type, ms = 60_000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = messages.findIndex((m) => m.type === type);
      if (i >= 0) return messages.splice(i, 1)[0];
      if (Date.now() > deadline) throw new Error(`${name}: no "${type}" from the server within ${ms} ms`);
      await new Promise((r) => {
        wake = r;
        setTimeout(r, 100);
      });
    }
  };
  const { port } = await next("port");
  const socket = netConnect({ port, host: "127.0.0.1" });
  await new Promise((r) => socket.once("connect", r));
  let received = 0;
  let closed = false;
  socket.on("data", (d) => (received += d.length));
  socket.on("error", () => {});
  socket.on("close", () => (closed = true));
  // Warm-up: calls answered at once, so the code paths are compiled and buffers allocated before measuring.
  for (let i = 0; i < 200; i++) {
    // Id 127, answered before the next is read.
    const warm =
      c.encoding === "protobuf"
        ? encodeFrame(Uint8Array.from([0x08, 0x7f, 0x2a, 0x00]), FRAME)
        : mpFrame(mpRequest(0x7f, "Echo", [MP_EMPTY_VEC, MP_EMPTY_VEC, MP_EMPTY_VEC, MP_EMPTY_MAP]));
    socket.write(warm);
  }
  while (received < 200 * 4) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 100));
  received = 0;
  child.send({ type: "start" });
  await next("started");
  const others = [];
  if (c.connections !== undefined) {
    // One frame on each of many connections, each answered.
    let answered = 0;
    for (let i = 0; i < c.connections; i++) {
      const s = netConnect({ port, host: "127.0.0.1" });
      s.on("error", () => {});
      s.once("data", () => answered++);
      s.once("connect", () => s.write(frames[0]));
      others.push(s);
    }
    while (answered < c.connections) await new Promise((r) => setTimeout(r, 10));
    received = 1;
  } else {
    for (const f of frames) socket.write(f);
  }
  const deadline = Date.now() + 120_000;
  let outcome;
  for (;;) {
    if (c.ends === "held" && messages.some((m) => m.type === "held")) {
      outcome = "held by the handler";
      break;
    }
    if (c.ends === "answer" && received > 0) {
      await new Promise((r) => setTimeout(r, 50));
      outcome = "answered";
      break;
    }
    if (closed) {
      outcome = received > 0 ? "answered, connection closed" : "connection closed";
      break;
    }
    if (Date.now() > deadline) {
      outcome = "no outcome in 120 s";
      break;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  await new Promise((r) => setTimeout(r, 100));
  child.send({ type: "report" });
  const report = await next("report");
  socket.destroy();
  for (const o of others) o.destroy();
  child.kill();
  return { name, what: c.what, note, bytes, count: c.count ?? c.connections ?? 1, outcome, ...report };
}

function mib(n) {
  return `${(n / MiB).toFixed(1)} MiB`;
}

async function main() {
  const names = process.argv.slice(2).filter((a) => !a.startsWith("-"));
  const unknown = names.filter((n) => CASES[n] === undefined);
  if (unknown.length > 0) throw new Error(`unknown case ${unknown.join(", ")}; the cases: ${Object.keys(CASES).join(", ")}`);
  const run = names.length > 0 ? names : Object.keys(CASES);
  console.log(`node ${process.version}; a server process per case, its event loop probed every 1 ms`);
  console.log(
    "case | bytes sent | outcome | event loop held (longest task) | server CPU | RSS peak above start | retained after GC | retained ÷ bytes",
  );
  for (const name of run) {
    const r = await measure(name);
    const per = r.count > 1 ? ` (${(r.retained / r.count / 1024).toFixed(2)} KiB each)` : "";
    console.log(
      `${r.name} | ${mib(r.bytes)} | ${r.outcome} | ${r.blockedMs.toFixed(0)} ms | ${r.cpuMs.toFixed(0)} ms | ${mib(r.peakRss)} | ${mib(r.retained)}${per} | ${(r.retained / r.bytes).toFixed(1)}×`,
    );
    console.log(`    ${r.what}${r.note !== undefined ? `; ${r.note}` : ""}`);
  }
}

if (process.argv[2] === "--serve") {
  await serve(process.argv[3]);
} else {
  await main();
}
