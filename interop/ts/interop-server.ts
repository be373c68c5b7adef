/**
 * The TypeScript interop server: interop.v1.InteropService implemented on
 * @protosocket/runtime through the generated `InteropServiceDefinition`, behaving
 * the way the Rust `interop-server` (interop/rust/src/server.rs) does, so the
 * Rust `interop-client` scenarios pass against either.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { Code, createServer, RpcError, type HandlerContext, type Server } from "@protosocket/runtime";

type ServerTlsOptions = NonNullable<Parameters<Server["listen"]>[0]>["tls"];
import { setTimeout as delay } from "node:timers/promises";
import { EchoResponseSchema, type StreamItemSchema } from "@protosocket/gen/interop/v1/interop_pb.js";
import { InteropServiceDefinition, type InteropServiceHandlers } from "@protosocket/gen/interop/v1/interop_service_protosocket.js";

/** The counters of `stats`, with the Rust server's meaning (interop/rust/README.md). */
export interface InteropCounters {
  /** Rpcs stopped before they produced their terminal result (client Cancel, connection lost). */
  cancelledHandlers: bigint;
  /** Unary rpcs that produced their response (echo, sleep, fail, stats) and streams that ran to End. */
  completed: bigint;
  /** `reject` requests. */
  rejected: bigint;
}

/**
 * Follows one rpc from the moment its handler is called: it ends either
 * completed or cancelled (its `ctx.signal` aborted first), counted once.
 * The Rust server counts the same way with a drop guard moved into each
 * future/stream.
 */
function track(counters: InteropCounters, ctx: HandlerContext): { complete(): void } {
  let settled = false;
  const onAbort = () => {
    if (settled) return;
    settled = true;
    counters.cancelledHandlers++;
  };
  const signal = ctx.signal;
  if (signal.aborted) onAbort();
  else signal.addEventListener("abort", onAbort, { once: true });
  return {
    complete() {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      counters.completed++;
    },
  };
}

/** Resolves after `ms`, or throws an AbortError when `signal` aborts first. */
async function sleepUnlessCancelled(ms: number, signal: AbortSignal): Promise<void> {
  if (ms > 0) await delay(ms, undefined, { signal });
  else signal.throwIfAborted();
}

/** The handlers of InteropService over `counters`. */
export function createInteropHandlers(counters: InteropCounters): InteropServiceHandlers {
  return {
    echo(request, ctx) {
      const t = track(counters, ctx);
      t.complete();
      return { message: request.message, payload: request.payload };
    },

    // A plain function returning an async generator: the tracking starts when
    // the rpc starts, as in Rust, not at the first item pulled.
    stream(request, ctx) {
      const t = track(counters, ctx);
      const count = request.count;
      const delayMs = request.itemDelayMs;
      const payload = new Uint8Array(request.payloadSize);
      return (async function* (): AsyncGenerator<MessageInitShape<typeof StreamItemSchema>> {
        for (let sequence = 0n; sequence < count; sequence++) {
          if (sequence > 0n && delayMs > 0) await sleepUnlessCancelled(delayMs, ctx.signal);
          yield { sequence, payload };
        }
        t.complete();
      })();
    },

    async sleep(request, ctx) {
      const t = track(counters, ctx);
      await sleepUnlessCancelled(request.ms, ctx.signal);
      t.complete();
      return { sleptMs: request.ms };
    },

    fail(request, ctx) {
      const t = track(counters, ctx);
      const details = request.withDetails ? [anyPack(EchoResponseSchema, create(EchoResponseSchema, { message: "detail" }))] : [];
      t.complete();
      // Sent as the envelope's `error` case (protosocket.v1.Status) with this code, message and details.
      throw new RpcError(request.code as Code, request.message, details);
    },

    reject() {
      counters.rejected++;
      // A handler that throws `cancelled` is answered with a bare Cancel frame,
      // which is what the Rust server's RpcKind::Cancelled puts on the wire.
      throw new RpcError(Code.Cancelled, "rejected");
    },

    stats(_request, ctx) {
      const snapshot = { ...counters };
      track(counters, ctx).complete();
      return snapshot;
    },
  };
}

/** A running TypeScript interop server. */
export interface InteropServer {
  /** The protosocket server. */
  readonly server: Server;
  /** The bound port on 127.0.0.1. */
  readonly port: number;
  /** The live counters. */
  readonly counters: InteropCounters;
  /** Stops at once. */
  close(): Promise<void>;
}

/** Starts an interop server on 127.0.0.1 (port 0 by default), plain or TLS. */
export async function startInteropServer(
  options: { port?: number; tls?: ServerTlsOptions; onHandlerError?: (e: RpcError, method: string) => void } = {},
): Promise<InteropServer> {
  const counters: InteropCounters = { cancelledHandlers: 0n, completed: 0n, rejected: 0n };
  // Inbound frames up to 8 MiB, like the Rust server's max_buffer_length.
  const server = createServer({
    maxFrameBytes: 8 * 1024 * 1024,
    ...(options.onHandlerError !== undefined ? { onHandlerError: options.onHandlerError } : {}),
  });
  server.register(InteropServiceDefinition, createInteropHandlers(counters));
  const { port } = await server.listen({
    host: "127.0.0.1",
    port: options.port ?? 0,
    ...(options.tls !== undefined ? { tls: options.tls } : {}),
  });
  return { server, port, counters, close: () => server.close({ graceMs: 0 }) };
}
