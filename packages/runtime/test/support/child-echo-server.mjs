// An echo server in its own process, for tests that kill it (reliability-faults.test.ts).
// Runs the built runtime (packages/runtime/dist) and the echo service's generated
// definition (@protosocket/gen, gen/dist): `npm run build` first.
// Prints "LISTENING host:port" once it listens. Echo with message "sleep:N"
// answers after N ms; Count streams `count` items `delayMs` apart.
import { setTimeout as sleep } from "node:timers/promises";
import { Code, createServer, RpcError } from "@protosocket/runtime";
import { EchoServiceDefinition } from "@protosocket/gen/echo/v1/echo_protosocket.js";

const server = createServer({ keepAliveMs: process.env.KEEPALIVE_MS ? Number(process.env.KEEPALIVE_MS) : undefined });
server.register(EchoServiceDefinition, {
  async echo(req, ctx) {
    if (req.message.startsWith("sleep:")) await sleep(Number(req.message.slice(6)), undefined, { signal: ctx.signal });
    return { message: req.message, payload: req.payload };
  },
  async *count(req, ctx) {
    const payload = new Uint8Array(req.payloadSize);
    for (let n = 1; n <= req.count; n++) {
      if (req.delayMs > 0) await sleep(req.delayMs, undefined, { signal: ctx.signal });
      yield { n, payload };
    }
  },
  fail(req) {
    throw new RpcError(req.code >= 1 && req.code <= 16 ? req.code : Code.Unknown, req.message);
  },
});
const { host, port } = await server.listen({ host: "127.0.0.1", port: Number(process.argv[2] ?? 0) });
console.log(`LISTENING ${host}:${port}`);
