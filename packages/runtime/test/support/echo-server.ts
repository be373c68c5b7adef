import { setTimeout as sleep } from "node:timers/promises";
import {
  Code,
  createServer,
  RpcError,
  type Server,
  type ServerOptions,
  type ServiceDefinition,
  type ServiceImpl,
} from "../../src/index.js";
import type { EchoService } from "@protosocket/gen/echo/v1/echo_pb.js";
import { echoDef } from "./services.js";

/** Observations of the echo handlers, for assertions. */
export interface EchoProbe {
  /** Calls whose ctx.signal aborted. */
  aborted: number;
  /** Stream handlers that finished (returned, threw or were returned). */
  streamsFinished: number;
  /** Items yielded by Count so far. */
  yielded: number;
}

/** The echo handlers used across tests. */
export function echoImpl(probe: EchoProbe): ServiceImpl<typeof EchoService> {
  return {
    async echo(req, ctx) {
      if (req.message.startsWith("sleep:")) {
        const ms = Number(req.message.slice(6));
        try {
          await sleep(ms, undefined, { signal: ctx.signal });
        } catch (e) {
          probe.aborted++;
          throw e;
        }
      }
      return { message: req.message, payload: req.payload };
    },
    async *count(req, ctx) {
      const payload = new Uint8Array(req.payloadSize);
      try {
        for (let n = 1; n <= req.count; n++) {
          if (req.delayMs > 0) await sleep(req.delayMs, undefined, { signal: ctx.signal });
          probe.yielded++;
          yield { n, payload };
        }
      } finally {
        if (ctx.signal.aborted) probe.aborted++;
        probe.streamsFinished++;
      }
    },
    fail(req) {
      throw new RpcError(req.code as Code, req.message);
    },
  };
}

/** Starts an echo server on 127.0.0.1 with an ephemeral port. */
export async function startEchoServer(
  options: ServerOptions = {},
  def: ServiceDefinition<typeof EchoService> = echoDef,
): Promise<{ server: Server; port: number; probe: EchoProbe }> {
  const probe: EchoProbe = { aborted: 0, streamsFinished: 0, yielded: 0 };
  const server = createServer(options);
  server.register(def, echoImpl(probe));
  const { port } = await server.listen({ host: "127.0.0.1", port: 0 });
  return { server, port, probe };
}

export { Code };
