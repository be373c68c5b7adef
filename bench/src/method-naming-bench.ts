// How the standard envelope names a method on the wire, measured:
// `node bench/dist/method-naming-bench.js` (after `tsc -b bench`).
//
// A request of the standard envelope (protosocket/v1/standard.proto) names its method. Two
// ways were candidates: the full name as a string ("echo.v1.EchoService/Echo", field 3, what
// the runtime does) or a stable numeric id (a fixed32 FNV-1a hash of the full name, checked
// for collisions when generating and when registering). A response names no method, so only
// the request differs. This measures, per request, what the client spends writing it (into
// a sink that copies the frame, as a connection's staging buffer does) plus what the server
// spends reading it (id, code, the method, the route to its handler, the body decoded), and
// the frame's size:
//
//   runtime name         the runtime's StandardRequestWire (packages/runtime dist)
//   name, string lookup  a copy of its header writer and tag loop, naming by string, routed
//                        by making the string and looking it up in a Map
//   name, hashed bytes   the same, routed by the last method named or a hash of the name's
//                        length and last 12 bytes, and a comparison from the end (what the
//                        runtime does)
//   id                   the same copy, naming by a fixed32 id
//
// with one method called over and over and with 64 methods called in turn. A second table
// puts it in proportion: a whole unary call's envelope work (the request written, read,
// routed and decoded; the response written, read and decoded) through the runtime's codecs,
// for the bench's three message sets, with the service bound to its own envelopes and on the
// standard envelope, and the bytes of both frames. Each measurement runs in a fresh process
// (the median of 7 runs of ~0.3 s of CPU time: on a shared machine wall time counts the time
// other processes ran); 7 rounds (ROUNDS=n) interleave them, and it prints the median and
// range per variant and the frame's bytes. It measures internals of packages/runtime, not an API.

import { create, type DescMessage, type Message } from "@bufbuild/protobuf";
import { execFileSync } from "node:child_process";
import type { DescService } from "@bufbuild/protobuf";
import {
  BenchService,
  PlaceOrderRequestSchema,
  PlaceOrderResponseSchema,
  SimpleRequestSchema,
  SimpleResponseSchema,
} from "@protosocket/gen/bench/v1/bench_pb.js";
import { BenchServiceDefinition } from "@protosocket/gen/bench/v1/bench_protosocket.js";
import { EchoRequestSchema, EchoResponseSchema, EchoService } from "@protosocket/gen/echo/v1/echo_pb.js";
import { EchoServiceDefinition } from "@protosocket/gen/echo/v1/echo_protosocket.js";
import { defineStandardService } from "@protosocket/runtime";
import { codecsOf, type AnyServiceDefinition } from "@protosocket/runtime/protocol";
import { GRPC_PAYLOAD_BYTES, ORDER, ORDER_PLACED, SMALL_PAYLOAD_BYTES } from "./messages.js";

interface Writer {
  buf: Uint8Array;
  pos: number;
  reset(pos: number): void;
  byte(b: number): void;
  varintNumber(v: number): void;
  raw(v: Uint8Array): void;
  fork(): number;
  join(at: number): void;
  rewind(pos: number): void;
}
interface Reader {
  pos: number;
  end: number;
  lo: number;
  hi: number;
  reset(buf: Uint8Array, start: number, end: number): void;
  tag(): number;
  uint32(): number;
  length(): number;
  fixed32(): number;
  varint64(): void;
  skip(wireType: number, no: number, budget: number): void;
}
interface Codec {
  write(value: unknown, w: Writer): void;
  decode(bytes: Uint8Array, start: number, end: number): Message;
}
interface Target {
  readonly method: string;
}
interface Inbound {
  readonly carried: Target | undefined;
  read(t: Target): unknown;
}
interface Wire {
  register?(t: Target): void;
  write(sink: { send(body: Uint8Array, head?: Uint8Array): void }, id: number, code: number, t: Target, body: unknown): void;
  decode(bytes: Uint8Array): Inbound;
}

const dist = new URL("../../packages/runtime/dist/protobuf/", import.meta.url);
const { messageCodec, ProtoWriter } = (await import(new URL("index.js", dist).href)) as {
  messageCodec(d: DescMessage): Codec;
  ProtoWriter: new (n: number) => Writer;
};
const { ProtoReader } = (await import(new URL("proto-reader.js", dist).href)) as {
  ProtoReader: new (b: Uint8Array, p: number, e: number) => Reader;
};
const { StandardRequestWire, standardTarget } = (await import(new URL("standard-envelope-wire.js", dist).href)) as {
  StandardRequestWire: new () => Wire & { register(t: Target): void };
  standardTarget(method: string, schema: DescMessage, field: "body", number: number): Target;
};

/** FNV-1a, 32 bits, over the UTF-8 bytes of `s`: the id a numeric scheme would use. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(s)) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** The runtime's hash of a method name: its length and its last 12 bytes, FNV-1a. */
function hashName(bytes: Uint8Array, start: number, end: number): number {
  let h = Math.imul(0x811c9dc5 ^ (end - start), 0x01000193);
  for (let i = Math.max(start, end - 12); i < end; i++) h = Math.imul(h ^ (bytes[i] as number), 0x01000193);
  // A small integer (31 bits), which a Map finds faster than a heap number.
  return h & 0x3fff_ffff;
}

interface LocalTarget extends Target {
  readonly id: number;
  /** The method field as written: tag, length, name (or tag, fixed32 id). */
  readonly field: Uint8Array;
  readonly codec: Codec;
}

function localTarget(method: string, schema: DescMessage, byId: boolean): LocalTarget {
  const name = new TextEncoder().encode(method);
  const id = fnv1a(method);
  let field: Uint8Array;
  if (byId) {
    field = new Uint8Array([0x1d, id & 0xff, (id >>> 8) & 0xff, (id >>> 16) & 0xff, id >>> 24]);
  } else {
    field = new Uint8Array(2 + name.length);
    field[0] = 0x1a;
    field[1] = name.length;
    field.set(name, 2);
  }
  return { method, id, field, codec: messageCodec(schema) };
}

const scratch = new ProtoWriter(4096);
const reader = new ProtoReader(new Uint8Array(0), 0, 0);
const EMPTY = new Uint8Array(0);

/** The runtime's request writer and reader, reduced to id, code, method and body, naming by name or id. */
class LocalWire implements Wire {
  private readonly byName = new Map<string, LocalTarget>();
  private readonly byId = new Map<number, LocalTarget>();
  private readonly byHash = new Map<number, LocalTarget>();
  private last: LocalTarget | undefined;
  constructor(
    private readonly ids: boolean,
    private readonly hashed = false,
  ) {}

  register(t: Target): void {
    const lt = t as LocalTarget;
    if (this.ids && this.byId.has(lt.id)) throw new Error(`id collision: ${lt.method}`);
    this.byName.set(lt.method, lt);
    this.byId.set(lt.id, lt);
    const name = new TextEncoder().encode(lt.method);
    this.byHash.set(hashName(name, 0, name.length), lt);
  }

  write(sink: { send(body: Uint8Array, head?: Uint8Array): void }, id: number, code: number, t: Target, body: unknown): void {
    const w = scratch;
    const lt = t as LocalTarget;
    w.reset(0);
    if (id !== 0) {
      w.byte(0x08);
      w.varintNumber(id);
    }
    if (code !== 0) {
      w.byte(0x10);
      w.byte(code);
    }
    w.raw(lt.field);
    const start = w.pos;
    w.byte(0x32);
    const at = w.fork();
    lt.codec.write(body, w);
    if (w.pos === at + 1) w.rewind(start);
    else w.join(at);
    sink.send(EMPTY, w.buf.subarray(0, w.pos));
    w.reset(0);
  }

  decode(bytes: Uint8Array): Inbound {
    const r = reader;
    r.reset(bytes, 0, bytes.length);
    let methodStart = -1;
    let methodEnd = -1;
    let methodId = -1;
    let bodyStart = 0;
    let bodyEnd = 0;
    while (r.pos < r.end) {
      const tag = r.tag();
      switch (tag) {
        case 0x08:
          r.varint64();
          break;
        case 0x10:
          r.uint32();
          break;
        case 0x1a: {
          const len = r.length();
          methodStart = r.pos;
          methodEnd = r.pos + len;
          r.pos = methodEnd;
          break;
        }
        case 0x1d:
          methodId = r.fixed32();
          break;
        case 0x32: {
          const len = r.length();
          bodyStart = r.pos;
          bodyEnd = r.pos + len;
          r.pos = bodyEnd;
          break;
        }
        default:
          r.skip(tag & 7, tag >>> 3, 64);
      }
    }
    let carried: LocalTarget | undefined;
    if (this.ids) carried = this.byId.get(methodId);
    else if (methodStart >= 0) carried = this.find(bytes, methodStart, methodEnd);
    return {
      carried,
      read: (t) => (t as LocalTarget).codec.decode(bytes, bodyStart, bodyEnd),
    };
  }

  private find(bytes: Uint8Array, start: number, end: number): LocalTarget | undefined {
    if (this.hashed) {
      // The runtime's way: the last method named, else a hash of the length and the last 12
      // bytes; either compared byte by byte from the end; no string.
      const last = this.last;
      if (last !== undefined && sameName(last, bytes, start, end)) return last;
      const t = this.byHash.get(hashName(bytes, start, end));
      if (t === undefined || !sameName(t, bytes, start, end)) return undefined;
      this.last = t;
      return t;
    }
    // Make the string, look it up.
    let name = "";
    for (let i = start; i < end; i++) name += String.fromCharCode(bytes[i] as number);
    return this.byName.get(name);
  }
}

/** True when `bytes[start, end)` is the name of `t` (its field is tag, one length byte, name). */
function sameName(t: LocalTarget, bytes: Uint8Array, start: number, end: number): boolean {
  if (t.field.length !== end - start + 2) return false;
  for (let i = end - start - 1; i >= 0; i--) if (bytes[start + i] !== t.field[2 + i]) return false;
  return true;
}

/** CPU µs (user + system) this process has used: the machine is shared, and wall time counts the time others ran. */
function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** ns of CPU per call of `f`: the median of 7 runs of ~0.3 s of CPU time each, after a warm-up. */
function nsPerOp(f: () => unknown): number {
  for (let i = 0; i < 50_000; i++) f();
  const runs: number[] = [];
  for (let r = 0; r < 7; r++) {
    let n = 0;
    const start = cpuMicros();
    let now = start;
    while (now - start < 300_000) {
      for (let i = 0; i < 1000; i++) f();
      n += 1000;
      now = cpuMicros();
    }
    runs.push(((now - start) * 1e3) / n);
  }
  runs.sort((a, b) => a - b);
  return runs[3] as number;
}

/** A sink that copies each frame into a staging buffer, as a connection does. */
const staging = new Uint8Array(1 << 16);
let stagedAt = 0;
let lastFrame: Uint8Array = EMPTY;
const sink = {
  send(body: Uint8Array, head?: Uint8Array): void {
    const h = head ?? EMPTY;
    if (stagedAt + h.length + body.length > staging.length) stagedAt = 0;
    const at = stagedAt;
    staging.set(h, at);
    staging.set(body, at + h.length);
    stagedAt += h.length + body.length;
    lastFrame = staging.subarray(at, stagedAt);
  },
};

interface Scenario {
  readonly label: string;
  readonly schema: DescMessage;
  readonly message: Message;
  readonly service: string;
  readonly methods: number;
}

const echoRequest = create(EchoRequestSchema, { message: "hello", payload: new Uint8Array(SMALL_PAYLOAD_BYTES).fill(0x61) });
const simpleRequest = create(SimpleRequestSchema, {
  responseSize: GRPC_PAYLOAD_BYTES,
  payload: { body: new Uint8Array(GRPC_PAYLOAD_BYTES).fill(0x61) },
});

const scenarios: Scenario[] = [
  { label: "small EchoRequest, 1 method", schema: EchoRequestSchema, message: echoRequest, service: "echo.v1.EchoService", methods: 1 },
  {
    label: "small EchoRequest, 64 methods in turn",
    schema: EchoRequestSchema,
    message: echoRequest,
    service: "echo.v1.EchoService",
    methods: 64,
  },
  {
    label: "grpc SimpleRequest, 1 method",
    schema: SimpleRequestSchema,
    message: simpleRequest,
    service: "grpc.testing.BenchmarkService",
    methods: 1,
  },
];

/** Runs one request scenario with one variant. */
function runRequest(scenario: Scenario, variant: number): { ns: number; bytes: number } {
  const names = Array.from({ length: scenario.methods }, (_, i) => `${scenario.service}/${i === 0 ? "UnaryCall" : `Method${i}`}`);
  let wire: Wire;
  let targets: Target[];
  if (variant === 0) {
    const runtime = new StandardRequestWire();
    targets = names.map((n) => standardTarget(n, scenario.schema, "body", 6));
    for (const t of targets) runtime.register(t);
    wire = runtime;
  } else {
    const local = new LocalWire(variant === 3, variant === 2);
    targets = names.map((n) => localTarget(n, scenario.schema, variant === 3));
    for (const t of targets) local.register(t);
    wire = local;
  }
  let id = 1;
  let turn = 0;
  const ns = nsPerOp(() => {
    const t = targets[turn] as Target;
    turn = turn + 1 === targets.length ? 0 : turn + 1;
    id = id >= 1_000_000 ? 1 : id + 1;
    wire.write(sink, id, 0, t, scenario.message);
    const inbound = wire.decode(lastFrame);
    if (inbound.carried !== t) throw new Error("routed to the wrong method");
    return inbound.read(t);
  });
  wire.write(sink, 1000, 0, targets[0] as Target, scenario.message);
  return { ns, bytes: lastFrame.length };
}

/** A whole unary call's envelope work: one of the bench's message sets, its method and messages. */
interface CallScenario {
  readonly label: string;
  readonly service: DescService & { readonly typeName: string };
  readonly bound: AnyServiceDefinition;
  readonly method: string;
  readonly request: Message;
  readonly response: Message;
}

const callScenarios: CallScenario[] = [
  {
    label: "small (EchoService/Echo)",
    service: EchoService,
    bound: EchoServiceDefinition,
    method: "Echo",
    request: echoRequest,
    response: create(EchoResponseSchema, { message: "hello", payload: new Uint8Array(SMALL_PAYLOAD_BYTES).fill(0x61) }),
  },
  {
    label: "realistic (BenchService/PlaceOrder)",
    service: BenchService,
    bound: BenchServiceDefinition,
    method: "PlaceOrder",
    request: create(PlaceOrderRequestSchema, ORDER),
    response: create(PlaceOrderResponseSchema, { ...ORDER, status: ORDER_PLACED }),
  },
  {
    label: "grpc (BenchService/UnaryCall)",
    service: BenchService,
    bound: BenchServiceDefinition,
    method: "UnaryCall",
    request: simpleRequest,
    response: create(SimpleResponseSchema, { payload: { body: new Uint8Array(GRPC_PAYLOAD_BYTES).fill(0x62) } }),
  },
];

/**
 * One unary call's envelope work through the runtime's codecs (`codecsOf`), with the
 * service bound to its envelopes (variant 0) or on the standard envelope (1): the client
 * writes the request, the server reads it, routes it and decodes the message, writes the
 * response, the client reads it and decodes the message.
 */
function runCall(scenario: CallScenario, variant: number): { ns: number; bytes: number } {
  const def = variant === 0 ? scenario.bound : defineStandardService(scenario.service);
  const codecs = codecsOf(def);
  const method = codecs.methods.find((m) => m.desc.name === scenario.method);
  if (method === undefined) throw new Error(`no method ${scenario.method}`);
  let id = 1;
  let bytes = 0;
  const call = () => {
    id = id >= 1_000_000 ? 1 : id + 1;
    codecs.request.write(sink, id, 0, method.request, scenario.request);
    bytes = lastFrame.length;
    const inbound = codecs.request.decode(lastFrame);
    const route = inbound.carried === undefined ? undefined : codecs.route(inbound.carried);
    if (route !== method) throw new Error("routed to the wrong method");
    inbound.read(route.request);
    codecs.response.write(sink, id, 0, route.response, scenario.response);
    bytes += lastFrame.length;
    return codecs.response.decode(lastFrame).read(method.response);
  };
  const ns = nsPerOp(call);
  return { ns, bytes };
}

const REQUEST_VARIANTS = ["runtime name", "name, string lookup", "name, hashed bytes", "id"];
const CALL_VARIANTS = ["bound envelope", "standard envelope"];
const ROUNDS = Number(process.env.ROUNDS ?? 7);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/** Runs every (scenario, variant) in a process of its own, `ROUNDS` interleaved rounds, and prints a table. */
function measure(kind: "request" | "call", labels: readonly string[], variants: readonly string[], heading: string): void {
  const self = new URL(import.meta.url).pathname;
  const results = labels.map(() => variants.map(() => ({ ns: [] as number[], bytes: 0 })));
  for (let round = 0; round < ROUNDS; round++) {
    for (let s = 0; s < labels.length; s++) {
      for (let v = 0; v < variants.length; v++) {
        const out = execFileSync(process.execPath, [self, `--${kind}`, String(s), String(v)], { encoding: "utf8" });
        const r = JSON.parse(out) as { ns: number; bytes: number };
        const cell = results[s]?.[v];
        if (cell === undefined) continue;
        cell.ns.push(r.ns);
        cell.bytes = r.bytes;
      }
    }
  }
  console.log(
    `| ${heading} | ${variants.map((v) => `${v}: CPU ns (min–max)`).join(" | ")} | ${heading === "request" ? "request" : "request + response"} bytes (${variants.join(" / ")}) |`,
  );
  console.log(`| --- | ${variants.map(() => "---").join(" | ")} | --- |`);
  labels.forEach((label, i) => {
    const row = results[i] ?? [];
    const cells = row.map((c) => `${median(c.ns).toFixed(0)} (${Math.min(...c.ns).toFixed(0)}–${Math.max(...c.ns).toFixed(0)})`);
    console.log(`| ${label} | ${cells.join(" | ")} | ${row.map((c) => c.bytes).join(" / ")} |`);
  });
  console.log();
}

if (process.argv[2] === "--request") {
  console.log(JSON.stringify(runRequest(scenarios[Number(process.argv[3])] as Scenario, Number(process.argv[4]))));
} else if (process.argv[2] === "--call") {
  console.log(JSON.stringify(runCall(callScenarios[Number(process.argv[3])] as CallScenario, Number(process.argv[4]))));
} else {
  measure(
    "request",
    scenarios.map((s) => s.label),
    REQUEST_VARIANTS,
    "request",
  );
  measure(
    "call",
    callScenarios.map((s) => s.label),
    CALL_VARIANTS,
    "unary call",
  );
  console.log(`medians of ${ROUNDS} interleaved rounds, each a fresh process reporting the median of 7 runs of ~0.3 s of CPU time`);
}
