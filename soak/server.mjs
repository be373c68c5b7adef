// The soak test's server: the echo service in its own process, reporting its
// memory and handler counts over IPC. Started by soak/run.mjs (with --expose-gc).
import { setTimeout as sleep } from "node:timers/promises";
import { createServer, RpcError } from "@protosocket/runtime";
import { EchoServiceDefinition } from "@protosocket/gen/echo/v1/echo_protosocket.js";

const probe = { started: 0, finished: 0, aborted: 0, yielded: 0 };
const connectionErrors = new Map();
let handlerErrors = 0;

function end(signal) {
  probe.finished++;
  if (signal.aborted) probe.aborted++;
}

const server = createServer({
  maxConcurrentCallsPerConnection: 1024,
  onConnectionError(error) {
    // Group by the reason, without the peer and numbers.
    const key = error.rawMessage.replace(/\d+/g, "N").slice(0, 80);
    connectionErrors.set(key, (connectionErrors.get(key) ?? 0) + 1);
  },
  onHandlerError() {
    handlerErrors++;
  },
});

server.register(EchoServiceDefinition, {
  async echo(req, ctx) {
    probe.started++;
    try {
      if (req.message.startsWith("sleep:")) await sleep(Number(req.message.slice(6)), undefined, { signal: ctx.signal });
      return { message: req.message, payload: req.payload };
    } finally {
      end(ctx.signal);
    }
  },
  async *count(req, ctx) {
    probe.started++;
    try {
      const payload = new Uint8Array(req.payloadSize);
      for (let n = 1; n <= req.count; n++) {
        if (req.delayMs > 0) await sleep(req.delayMs, undefined, { signal: ctx.signal });
        probe.yielded++;
        yield { n, payload };
      }
    } finally {
      end(ctx.signal);
    }
  },
  fail(req, ctx) {
    probe.started++;
    try {
      throw new RpcError(req.code, req.message);
    } finally {
      end(ctx.signal);
    }
  },
});

function stats(collect) {
  if (collect && typeof globalThis.gc === "function") {
    globalThis.gc();
    globalThis.gc();
  }
  const m = process.memoryUsage();
  return {
    rss: m.rss,
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    connections: server.connections,
    running: probe.started - probe.finished,
    ...probe,
    handlerErrors,
    connectionErrors: Object.fromEntries(connectionErrors),
  };
}

process.on("message", async (msg) => {
  if (msg.type === "stats") {
    process.send({ type: "stats", id: msg.id, stats: stats(msg.gc === true) });
  } else if (msg.type === "close") {
    await server.close({ graceMs: 2000 });
    process.send({ type: "closed", id: msg.id, stats: stats(false) });
    process.disconnect();
  }
});

const { port } = await server.listen({ host: "127.0.0.1", port: 0 });
process.send({ type: "listening", port });
