/**
 * The MessagePack protocols of the interop suite in TypeScript, field for
 * field the serde types of interop/rust/src/mp.rs: the interop protocol
 * (a body enum with a variant per method) and protosocket's
 * example-messagepack messages (the body is the message itself; the
 * `response_behavior` field tells unary from streaming).
 */
import { Code, createServer, RpcError, type Server } from "@protosocket/runtime";
import * as mp from "@protosocket/runtime/messagepack";
import { setTimeout as delay } from "node:timers/promises";

export interface EchoRequest {
  message: string;
  payload: Uint8Array;
}
export const EchoRequest = mp.struct<EchoRequest>("EchoRequest", { message: mp.string, payload: mp.bytes });
export const EchoResponse = mp.struct<EchoRequest>("EchoResponse", { message: mp.string, payload: mp.bytes });
export interface StreamRequest {
  count: number | bigint;
  payload_size: number;
  item_delay_ms: number;
}
export const StreamRequest = mp.struct<StreamRequest>("StreamRequest", { count: mp.u64, payload_size: mp.u32, item_delay_ms: mp.u32 });
export interface StreamItem {
  sequence: number | bigint;
  payload: Uint8Array;
}
export const StreamItem = mp.struct<StreamItem>("StreamItem", { sequence: mp.u64, payload: mp.bytes });
export interface SleepRequest {
  ms: number;
}
export const SleepRequest = mp.struct<SleepRequest>("SleepRequest", { ms: mp.u32 });
export interface SleepResponse {
  slept_ms: number;
}
export const SleepResponse = mp.struct<SleepResponse>("SleepResponse", { slept_ms: mp.u32 });
export interface FailRequest {
  code: number;
  message: string;
}
export const FailRequest = mp.struct<FailRequest>("FailRequest", { code: mp.u32, message: mp.string });
// biome-ignore lint/complexity/noBannedTypes: serde's `struct Empty {}`
export type Empty = {};
export const Empty = mp.struct<Empty>("Empty", {});
export interface StatsResponse {
  cancelled_handlers: number | bigint;
  completed: number | bigint;
  rejected: number | bigint;
}
export const StatsResponse = mp.struct<StatsResponse>("StatsResponse", { cancelled_handlers: mp.u64, completed: mp.u64, rejected: mp.u64 });
export const Status = mp.struct<{ code: number; message: string }>("Status", { code: mp.u32, message: mp.string });
/** `Fidelity { float: f64, by_id: HashMap<u32, String>, sorted: BTreeMap<i64, String>, names: BTreeMap<String, String> }`. */
export interface Fidelity {
  float: number;
  by_id: Map<number, string>;
  sorted: Map<number | bigint, string>;
  names: Record<string, string>;
}
export const Fidelity = mp.struct<Fidelity>("Fidelity", {
  float: mp.f64,
  by_id: mp.map(mp.u32, mp.string),
  sorted: mp.map(mp.i64, mp.string),
  names: mp.map(mp.string),
});

/** `Request { request_id: u64, code: u32, body: Option<RequestBody> }`; `Response` alike, with `Error(Status)` among its variants. */
export const MpInteropService = mp.defineMessagePackService({
  typeName: "interop.mp.InteropService",
  request: { name: "Request", fields: { request_id: "id", code: "code", body: "body" } },
  response: { name: "Response", fields: { request_id: "id", code: "code", body: "body" } },
  error: { schema: Status },
  methods: {
    echo: mp.unary(EchoRequest, EchoResponse),
    stream: mp.serverStreaming(StreamRequest, StreamItem),
    sleep: mp.unary(SleepRequest, SleepResponse),
    fail: mp.unary(FailRequest, Empty),
    reject: mp.unary(Empty, Empty),
    stats: mp.unary(Empty, StatsResponse),
    fidelity: mp.unary(Fidelity, Fidelity),
  },
});

export interface ExampleEchoRequest {
  message: string;
  nanotime: number | bigint;
}
export const ExampleEchoRequest = mp.struct<ExampleEchoRequest>("EchoRequest", { message: mp.string, nanotime: mp.u64 });
export const ExampleEchoResponse = mp.struct<ExampleEchoRequest>("EchoResponse", { message: mp.string, nanotime: mp.u64 });
export interface ExampleEchoStream {
  message: string;
  nanotime: number | bigint;
  sequence: number | bigint;
}
export const ExampleEchoStream = mp.struct<ExampleEchoStream>("EchoStream", { message: mp.string, nanotime: mp.u64, sequence: mp.u64 });
export const ResponseBehavior = mp.enumeration("ResponseBehavior", { Unary: null, Stream: null });

/**
 * example-messagepack's messages, unchanged: `Request { request_id, code, body:
 * Option<EchoRequest>, response_behavior: ResponseBehavior }` and `Response {
 * request_id, code, kind: Option<EchoResponseKind> }` with the variants `Echo`
 * and `Stream`. No error case: the example's server rejects with Cancel.
 */
export const ExampleService = mp.defineMessagePackService({
  typeName: "example.EchoService",
  request: {
    name: "Request",
    bodyEnum: false,
    fields: { request_id: "id", code: "code", body: "body", response_behavior: ResponseBehavior },
  },
  response: { name: "Response", fields: { request_id: "id", code: "code", kind: "body" } },
  methods: {
    echo: mp.unary(ExampleEchoRequest, ExampleEchoResponse, {
      request: { set: { response_behavior: "Unary" } },
      response: { variant: "Echo" },
    }),
    echoStream: mp.serverStreaming(ExampleEchoRequest, ExampleEchoStream, {
      request: { set: { response_behavior: "Stream" } },
      response: { variant: "Stream" },
    }),
  },
});

/** The counters of `stats`, as the Rust server keeps them. */
export interface MpCounters {
  cancelledHandlers: number;
  completed: number;
  rejected: number;
}

/** A TypeScript server of both protocols' behaviour, as interop/rust/src/mp.rs answers. */
export async function startMpServer(protocol: "interop" | "example"): Promise<{ server: Server; port: number; counters: MpCounters }> {
  const counters: MpCounters = { cancelledHandlers: 0, completed: 0, rejected: 0 };
  const server = createServer();
  const track = (signal: AbortSignal) => {
    let done = false;
    signal.addEventListener("abort", () => {
      if (!done) counters.cancelledHandlers++;
    });
    return () => {
      done = true;
      counters.completed++;
    };
  };
  if (protocol === "interop") {
    server.register(MpInteropService, {
      echo(req, ctx) {
        track(ctx.signal)();
        return req;
      },
      async *stream(req, ctx) {
        const finish = track(ctx.signal);
        for (let i = 0; i < Number(req.count); i++) {
          if (i > 0 && req.item_delay_ms > 0) await delay(req.item_delay_ms);
          if (ctx.signal.aborted) return;
          yield { sequence: i, payload: new Uint8Array(req.payload_size) };
        }
        finish();
      },
      async sleep(req, ctx) {
        const finish = track(ctx.signal);
        await delay(req.ms, undefined, { signal: ctx.signal });
        finish();
        return { slept_ms: req.ms };
      },
      fail(req, ctx) {
        track(ctx.signal)();
        throw new RpcError(req.code as Code, req.message);
      },
      reject() {
        counters.rejected++;
        throw new RpcError(Code.Cancelled, "rejected");
      },
      stats(_req, ctx) {
        const snapshot = { cancelled_handlers: counters.cancelledHandlers, completed: counters.completed, rejected: counters.rejected };
        track(ctx.signal)();
        return snapshot;
      },
      fidelity(req, ctx) {
        track(ctx.signal)();
        return req;
      },
    });
  } else {
    server.register(ExampleService, {
      echo: (req) => req,
      async *echoStream(req) {
        let sequence = 0;
        for (const c of new TextEncoder().encode(req.message))
          yield { message: String.fromCharCode(c), nanotime: req.nanotime, sequence: sequence++ };
      },
    });
  }
  const { port } = await server.listen();
  return { server, port, counters };
}
