// The conformance server: conformance.v1.ConformanceService (proto/conformance/v1)
// with handlers that report what they observed through its Observed rpc, so a
// client in another process (another runtime) can check it too.
import { ConformanceServiceDefinition, type ConformanceServiceHandlers } from "@protosocket/gen/conformance/v1/conformance_protosocket.js";
import { type Code, RpcError, type Server, type ServerOptions } from "@protosocket/runtime";

/** The largest frame the conformance server accepts: the frame-size scenarios rely on it. */
export const SERVER_MAX_FRAME_BYTES = 1 << 20;

/** The options every conformance server runs with, whatever starts it. */
export const SERVER_OPTIONS: ServerOptions = { maxFrameBytes: SERVER_MAX_FRAME_BYTES };

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Registers ConformanceService on `server`, every rpc but Unimplemented
 * (which therefore answers `unimplemented`).
 */
export function registerConformance(server: Server): void {
  const observed = { started: 0, aborted: 0, streamsFinished: 0 };
  const handlers: Partial<ConformanceServiceHandlers> = {
    echo(request) {
      return { message: request.message, payload: request.payload };
    },
    async sleep(request, ctx) {
      observed.started++;
      ctx.signal.addEventListener("abort", () => observed.aborted++, { once: true });
      await delay(request.ms, ctx.signal);
      return {};
    },
    async *count(request, ctx) {
      observed.started++;
      ctx.signal.addEventListener("abort", () => observed.aborted++, { once: true });
      const payload = new Uint8Array(request.payloadSize);
      try {
        for (let n = 1; n <= request.count; n++) {
          if (request.delayMs > 0) await delay(request.delayMs, ctx.signal);
          yield { n, payload };
        }
      } finally {
        observed.streamsFinished++;
      }
    },
    fail(request) {
      if (request.plain) throw new Error(request.message);
      throw new RpcError(request.code as Code, request.message);
    },
    observed() {
      return { ...observed };
    },
  };
  server.registerPartial(ConformanceServiceDefinition, handlers);
}
