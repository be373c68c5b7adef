// Codec micro-benchmark: `node bench/dist/codec-bench.js` (after `npm run bench -- --help`
// or `tsc -b bench`). Encodes and decodes the benchmark's messages with
//
//   protobuf-es   toBinary / fromBinary (its own per-field compiled closures + BinaryWriter)
//   compiled      the runtime's compiled codecs (src/protobuf): code generated from the
//                 descriptor at run time with new Function
//   module        the same generated code loaded from a module file, as a protoc plugin
//                 would emit it
//   from init     create(schema, init) then the compiled encoder, against the compiled
//                 encoder writing the init object as it is (what a handler returns)
//
// and prints ns per operation (median of 7 runs of ~0.3 s) and how long compiling a type takes.
// It measures internals of packages/runtime (imported from its dist), not an API.

import { create, fromBinary, toBinary, type DescMessage, type Message } from "@bufbuild/protobuf";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { performance } from "node:perf_hooks";
import {
  PlaceOrderRequestSchema,
  PlaceOrderResponseSchema,
  SimpleRequestSchema,
  SimpleResponseSchema,
} from "@protosocket/gen/bench/v1/bench_pb.js";
import { EchoRequestSchema, CountResponseSchema } from "@protosocket/gen/echo/v1/echo_pb.js";
import { GRPC_PAYLOAD_BYTES, ORDER, ORDER_PLACED } from "./messages.js";

type Internals = {
  messageCodec(desc: DescMessage): { write(m: Message, w: unknown): void; encode(m: Message): Uint8Array; decode(b: Uint8Array): Message };
  ProtoWriter: new (size: number) => { reset(pos: number): void; pos: number };
  encoderSource(desc: DescMessage): { source: string; constants: unknown[]; helpers: unknown };
  decoderSource(desc: DescMessage): { source: string; constants: unknown[]; helpers: unknown };
  ProtoReader: new (buf: Uint8Array, pos: number, end: number) => { reset(buf: Uint8Array, start: number, end: number): void };
};

const dist = new URL("../../packages/runtime/dist/protobuf/", import.meta.url);
const internals: Internals = {
  ...((await import(new URL("index.js", dist).href)) as object),
  ...((await import(new URL("compile-encoder.js", dist).href)) as object),
  ...((await import(new URL("compile-decoder.js", dist).href)) as object),
  ...((await import(new URL("proto-reader.js", dist).href)) as object),
} as Internals;

function nsPerOp(f: () => unknown): number {
  for (let i = 0; i < 20_000; i++) f();
  const runs: number[] = [];
  for (let r = 0; r < 7; r++) {
    let n = 0;
    const start = performance.now();
    let now = start;
    while (now - start < 300) {
      for (let i = 0; i < 1000; i++) f();
      n += 1000;
      now = performance.now();
    }
    runs.push(((now - start) * 1e6) / n);
  }
  runs.sort((a, b) => a - b);
  return runs[3]!;
}

const dir = mkdtempSync(join(tmpdir(), "codec-bench-"));
let files = 0;
async function asModule(part: { source: string; constants: unknown[]; helpers: unknown }): Promise<unknown> {
  const file = join(dir, `m${files++}.mjs`);
  writeFileSync(file, `export default function (H, C) {\n${part.source}\n}\n`);
  const factory = (await import(pathToFileURL(file).href)).default as (h: unknown, c: unknown[]) => (...a: unknown[]) => unknown;
  return factory(part.helpers, part.constants);
}

const cases: [string, DescMessage, Message][] = [
  ["small EchoRequest", EchoRequestSchema, create(EchoRequestSchema, { message: "hello", payload: new Uint8Array(16).fill(0x61) })],
  ["small CountResponse", CountResponseSchema, create(CountResponseSchema, { n: 123_456 })],
  ["realistic PlaceOrderRequest", PlaceOrderRequestSchema, create(PlaceOrderRequestSchema, ORDER)],
  ["realistic PlaceOrderResponse", PlaceOrderResponseSchema, create(PlaceOrderResponseSchema, { ...ORDER, status: ORDER_PLACED })],
  [
    "grpc SimpleRequest",
    SimpleRequestSchema,
    create(SimpleRequestSchema, { responseSize: GRPC_PAYLOAD_BYTES, payload: { body: new Uint8Array(GRPC_PAYLOAD_BYTES) } }),
  ],
  ["grpc SimpleResponse", SimpleResponseSchema, create(SimpleResponseSchema, { payload: { body: new Uint8Array(GRPC_PAYLOAD_BYTES) } })],
];

const row = (cells: (string | number)[]) =>
  console.log(cells.map((c, i) => (i === 0 ? String(c).padEnd(30) : String(c).padStart(11))).join(" "));
console.log(`node ${process.version}; ns per operation, median of 7 runs`);
row(["message", "bytes", "pb-es enc", "compiled", "module", "pb-es dec", "compiled", "module", "create+enc", "init enc"]);
for (const [name, desc, message] of cases) {
  const bytes = toBinary(desc, message);
  const codec = internals.messageCodec(desc);
  const writer = new internals.ProtoWriter(4096);
  const encodeModule = ((await asModule(internals.encoderSource(desc))) as unknown as { message: (m: Message, w: unknown) => void })
    .message;
  const decodeModule = (await asModule(internals.decoderSource(desc))) as (r: unknown) => Message;
  const reader = new internals.ProtoReader(bytes, 0, bytes.length);
  // The init object a handler would return: plain objects all the way down.
  const init = JSON.parse(
    JSON.stringify(message, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v instanceof Uint8Array ? { u8: [...v] } : v)),
    (_k, v: unknown) =>
      typeof v === "string" && /^\d+n$/.test(v)
        ? BigInt(v.slice(0, -1))
        : v !== null && typeof v === "object" && "u8" in v
          ? new Uint8Array((v as { u8: number[] }).u8)
          : v,
  ) as Record<string, unknown>;
  const strip = (o: unknown): void => {
    if (o === null || typeof o !== "object" || o instanceof Uint8Array) return;
    delete (o as Record<string, unknown>).$typeName;
    for (const v of Object.values(o)) strip(v);
  };
  strip(init);
  row([
    name,
    bytes.length,
    nsPerOp(() => toBinary(desc, message)).toFixed(0),
    nsPerOp(() => {
      writer.reset(0);
      codec.write(message, writer);
    }).toFixed(0),
    nsPerOp(() => {
      writer.reset(0);
      encodeModule(message, writer);
    }).toFixed(0),
    nsPerOp(() => fromBinary(desc, bytes)).toFixed(0),
    nsPerOp(() => codec.decode(bytes)).toFixed(0),
    nsPerOp(() => {
      reader.reset(bytes, 0, bytes.length);
      return decodeModule(reader);
    }).toFixed(0),
    nsPerOp(() => {
      writer.reset(0);
      codec.write(create(desc, init), writer);
    }).toFixed(0),
    nsPerOp(() => {
      writer.reset(0);
      codec.write(init as never, writer);
    }).toFixed(0),
  ]);
}

// Compiling: what run-time generation costs once per message type.
for (const [name, desc] of cases) {
  const start = performance.now();
  const n = 200;
  for (let i = 0; i < n; i++) {
    const e = internals.encoderSource(desc);
    const d = internals.decoderSource(desc);
    new Function("H", "C", e.source);
    new Function("H", "C", d.source);
  }
  console.log(`compile ${name}: ${(((performance.now() - start) / n) * 1000).toFixed(0)} µs (encoder + decoder source and new Function)`);
}
