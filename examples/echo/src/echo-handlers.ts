import { setTimeout as sleep } from "node:timers/promises";
import { Code, RpcError } from "@protosocket/runtime";
import type { EchoServiceHandlers } from "@protosocket/gen/echo/v1/echo_protosocket.js";

/** The echo service's handlers. */
export const echoHandlers: EchoServiceHandlers = {
  echo(request, ctx) {
    // Echo the caller's request id back as a trailer, when it sent one.
    const requestId = ctx.metadata.get("x-request-id");
    if (requestId !== undefined) ctx.trailers.set("x-request-id", requestId);
    return { message: request.message, payload: request.payload };
  },
  async *count(request, ctx) {
    const payload = new Uint8Array(request.payloadSize);
    for (let n = 1; n <= request.count; n++) {
      if (request.delayMs > 0) {
        // Rejects with an AbortError when the client cancels: the generator stops.
        await sleep(request.delayMs, undefined, { signal: ctx.signal });
      }
      yield { n, payload };
    }
  },
  fail(request) {
    const code = request.code >= 1 && request.code <= 16 ? (request.code as Code) : Code.Unknown;
    throw new RpcError(code, request.message);
  },
};
