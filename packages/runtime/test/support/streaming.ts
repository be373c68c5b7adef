/**
 * The streaming test service (proto/streaming/v1): client-streaming Upload,
 * bidi Chat and unary Ping, with handlers steered by what the requests
 * carry and a probe of what they did.
 */
import { createRegistry } from "@bufbuild/protobuf";
import { setTimeout as sleep } from "node:timers/promises";
import {
  type Code,
  createServer,
  RpcError,
  type HandlerContext,
  type Server,
  type ServerOptions,
  type ServiceImpl,
} from "../../src/index.js";
import { serviceFromRegistry } from "../../src/protocol.js";
import { file_streaming_v1_streaming, StreamingService, type ChatMessage, type Chunk } from "@protosocket/gen/streaming/v1/streaming_pb.js";

/** StreamingService bound at run time from its descriptors. */
export const streamingDef = serviceFromRegistry(StreamingService, createRegistry(file_streaming_v1_streaming));

/** What the streaming handlers did, for assertions. */
export interface StreamingProbe {
  /** Handlers that began. */
  started: number;
  /** Handlers whose body finished (returned, threw, or was returned early). */
  finished: number;
  /** Handlers that finished with their signal aborted. */
  aborted: number;
  /** Request messages the handlers read. */
  received: number;
  /** Response messages Chat yielded. */
  yielded: number;
  /** Why each handler's reading of its requests stopped with an error (code), in order. */
  inputErrors: Code[];
  /** Handlers running now. */
  readonly running: number;
  /** Handlers running now for one peer ("host:port" as the server sees it). */
  runningOf(peer: string): number;
  /** Handlers started and not finished, by peer. */
  readonly byPeer: Map<string, number>;
}

/** An empty probe. */
export function createStreamingProbe(): StreamingProbe {
  return {
    started: 0,
    finished: 0,
    aborted: 0,
    received: 0,
    yielded: 0,
    inputErrors: [],
    byPeer: new Map(),
    get running() {
      return this.started - this.finished;
    },
    runningOf(peer) {
      return this.byPeer.get(peer) ?? 0;
    },
  };
}

/** Waits `ms` unless the call is stopped first (then throws its reason). */
async function pause(ms: number, ctx: HandlerContext): Promise<void> {
  if (ms > 0) await sleep(ms, undefined, { signal: ctx.signal });
}

/** `note` / `text` commands: "fail:CODE", "sleep:MS", "answer" (Upload answers now), "end" (Chat ends now), "stall" (waits for the signal). */
function command(text: string): { verb: string; arg: number } {
  const [verb = "", arg = "0"] = text.split(":");
  return { verb, arg: Number(arg) || 0 };
}

/**
 * The handlers:
 * - Upload counts chunks and bytes and answers at End. A chunk's note steers
 *   it: "fail:CODE" throws RpcError(CODE), "answer" answers at once (before
 *   End), "sleep:MS" waits before reading on, "stall" waits until the call is
 *   stopped.
 * - Chat answers each message with one of the same seq, text and payload
 *   (after "sleep:MS" when its text says so); "fail:CODE" throws, "end"
 *   returns, "stall" waits until the call is stopped. `repeat` answers each
 *   message that many times.
 * - Ping answers with its request.
 */
export function streamingImpl(probe: StreamingProbe, options: { repeat?: number } = {}): ServiceImpl<typeof StreamingService> {
  const repeat = options.repeat ?? 1;
  const begin = (ctx: HandlerContext) => {
    probe.started++;
    probe.byPeer.set(ctx.peer, (probe.byPeer.get(ctx.peer) ?? 0) + 1);
  };
  const end = (ctx: HandlerContext) => {
    if (ctx.signal.aborted) probe.aborted++;
    probe.finished++;
    const n = (probe.byPeer.get(ctx.peer) ?? 1) - 1;
    if (n === 0) probe.byPeer.delete(ctx.peer);
    else probe.byPeer.set(ctx.peer, n);
  };
  const noteInputError = (e: unknown) => probe.inputErrors.push(RpcError.from(e).code);
  return {
    async upload(requests, ctx) {
      begin(ctx);
      try {
        let chunks = 0;
        let bytes = 0n;
        let lastSeq = 0;
        const it = requests[Symbol.asyncIterator]();
        for (;;) {
          let r: IteratorResult<Chunk>;
          try {
            r = await it.next();
          } catch (e) {
            noteInputError(e);
            throw e;
          }
          if (r.done === true) break;
          const chunk = r.value;
          probe.received++;
          chunks++;
          bytes += BigInt(chunk.data.byteLength);
          lastSeq = chunk.seq;
          const { verb, arg } = command(chunk.note);
          if (verb === "fail") throw new RpcError(arg as Code, `upload failed at chunk ${chunk.seq}`);
          if (verb === "answer") {
            await it.return?.();
            return { chunks, bytes, lastSeq, note: "answered early" };
          }
          if (verb === "sleep") await pause(arg, ctx);
          if (verb === "stall") await pause(3_600_000, ctx);
        }
        return { chunks, bytes, lastSeq, note: "done" };
      } finally {
        end(ctx);
      }
    },
    async *chat(requests, ctx) {
      begin(ctx);
      try {
        const it = requests[Symbol.asyncIterator]();
        for (;;) {
          let r: IteratorResult<ChatMessage>;
          try {
            r = await it.next();
          } catch (e) {
            noteInputError(e);
            throw e;
          }
          if (r.done === true) return;
          const m = r.value;
          probe.received++;
          const { verb, arg } = command(m.text);
          if (verb === "fail") throw new RpcError(arg as Code, `chat failed at message ${m.seq}`);
          if (verb === "end") return;
          if (verb === "sleep") await pause(arg, ctx);
          if (verb === "stall") await pause(3_600_000, ctx);
          for (let i = 0; i < repeat; i++) {
            probe.yielded++;
            yield { seq: m.seq, text: m.text, payload: m.payload };
          }
        }
      } finally {
        end(ctx);
      }
    },
    ping(request) {
      return request;
    },
  };
}

/** Starts a streaming server on 127.0.0.1 (ephemeral port). */
export async function startStreamingServer(
  options: ServerOptions = {},
  implOptions: { repeat?: number } = {},
): Promise<{ server: Server; port: number; probe: StreamingProbe }> {
  const probe = createStreamingProbe();
  const server = createServer(options);
  server.register(streamingDef, streamingImpl(probe, implOptions));
  const { port } = await server.listen({ host: "127.0.0.1", port: 0 });
  return { server, port, probe };
}

/** An async generator of `n` chunks of `size` bytes, counting what was pulled; `noteAt` puts notes on chosen chunks. */
export function chunks(
  n: number,
  size = 0,
  options: { notes?: Record<number, string>; counter?: { pulled: number; returned: boolean }; delayMs?: number; endless?: boolean } = {},
): AsyncIterable<{ seq: number; data: Uint8Array; note: string }> {
  const data = new Uint8Array(size);
  const counter = options.counter;
  return (async function* () {
    try {
      for (let seq = 1; options.endless === true || seq <= n; seq++) {
        if (options.delayMs !== undefined) await sleep(options.delayMs);
        if (counter !== undefined) counter.pulled++;
        yield { seq, data, note: options.notes?.[seq] ?? "" };
      }
    } finally {
      if (counter !== undefined) counter.returned = true;
    }
  })();
}
