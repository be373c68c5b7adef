/**
 * The proof: the same connect-es code — a service implementation (routes),
 * a server interceptor, a client interceptor and client code
 * (support/eliza-connect.ts, which imports nothing of protosocket) — runs
 * over connect-node's HTTP transport (HTTP/2, which bidi streaming needs;
 * the Connect and the gRPC protocol) and over protosocket, with the same
 * results: unary and every streaming kind, errors with details, headers as
 * metadata, trailers, context values, a timeout and a cancellation.
 */
import http2 from "node:http2";
import { once } from "node:events";
import type { Transport } from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport, createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { createServer } from "@protosocket/runtime";
import { afterEach, describe, expect, it } from "vitest";
import { createProtosocketTransport, registerConnectRoutes } from "../src/index.js";
import { createLogger, createServerLog, elizaRoutes, gatekeeper, talkToEliza, type ServerLog } from "./support/eliza-connect.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** connect-node's server (HTTP/2, cleartext) and a client transport of `protocol` over it. */
async function overHttp(protocol: "connect" | "grpc", log: ServerLog, clientLog: string[]): Promise<Transport> {
  const server = http2.createServer(connectNodeAdapter({ routes: elizaRoutes(log), interceptors: [gatekeeper] }));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no TCP address");
  const baseUrl = `http://127.0.0.1:${address.port}`;
  const sessionManager = new Http2SessionManager(baseUrl);
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  cleanups.push(() => sessionManager.abort());
  const options = { baseUrl, httpVersion: "2" as const, sessionManager, interceptors: [createLogger(clientLog)] };
  return protocol === "connect" ? createConnectTransport(options) : createGrpcTransport(options);
}

/** A protosocket server serving the same routes, and the connect-es transport over protosocket. */
async function overProtosocket(log: ServerLog, clientLog: string[]): Promise<Transport> {
  const server = createServer();
  registerConnectRoutes(server, elizaRoutes(log), { interceptors: [gatekeeper] });
  const { port } = await server.listen({ host: "127.0.0.1", port: 0 });
  const transport = createProtosocketTransport({ target: `127.0.0.1:${port}`, interceptors: [createLogger(clientLog)] });
  cleanups.push(() => server.close());
  cleanups.push(() => transport.close());
  return transport;
}

describe("the same connect-es code over HTTP and over protosocket", () => {
  it("gives the same results, interceptor logs and server observations", async () => {
    const runs: Record<string, { results: unknown; clientLog: string[]; serverEvents: string[] }> = {};
    for (const name of ["connect over HTTP/2", "gRPC over HTTP/2", "protosocket"] as const) {
      const log = createServerLog();
      const clientLog: string[] = [];
      const transport =
        name === "protosocket"
          ? await overProtosocket(log, clientLog)
          : await overHttp(name === "connect over HTTP/2" ? "connect" : "grpc", log, clientLog);
      const results = await talkToEliza(transport, log);
      runs[name] = { results, clientLog, serverEvents: log.events };
    }
    const http = runs["connect over HTTP/2"]!;
    // What the calls returned, as connect-es code sees it over HTTP: the reference.
    expect(http.results).toEqual({
      unary: { sentence: 'ada said "hello"', trailer: { "x-eliza-mood": "curious", "x-gatekeeper": "passed" } },
      contextValues: 'ada said "who am I" for acme',
      unaryError: {
        code: "FailedPrecondition",
        message: "I cannot answer that",
        details: [{ reason: "POLICY", domain: "eliza.example", metadata: { topic: "fail" } }],
        metadata: { "x-eliza-mood": "curious", "x-why": "policy" },
      },
      denied: { code: "PermissionDenied", message: "go away", details: [], metadata: {} },
      timeout: "DeadlineExceeded",
      cancelled: "Canceled",
      serverStream: {
        sentences: ["Hi Ada, I'm Eliza.", "How are you feeling today, ada?", "Tell me more."],
        trailer: { "x-introduced": "Ada", "x-gatekeeper": "passed" },
      },
      serverStreamError: {
        before: ["Hi fail, I'm Eliza."],
        error: {
          code: "ResourceExhausted",
          message: "introductions are over",
          details: [{ reason: "TIRED", domain: "eliza.example", metadata: {} }],
          metadata: { "x-introduced": "fail", "x-gatekeeper": "passed" },
        },
      },
      clientStream: {
        heard: 3,
        sentence: "So, I dream, then I wake, then I forget.",
        trailer: { "x-heard": "3", "x-gatekeeper": "passed" },
      },
      bidi: {
        answers: ['1: why do you say "I am sad"?', '2: why do you say "I am happy"?'],
        trailer: { "x-sentences": "2", "x-gatekeeper": "passed" },
      },
      bidiError: {
        before: ['1: why do you say "one"?', '2: why do you say "two"?'],
        error: { code: "Aborted", message: "not after 2 sentences", details: [], metadata: { "x-gatekeeper": "passed" } },
      },
    });
    for (const name of ["gRPC over HTTP/2", "protosocket"]) {
      const run = runs[name]!;
      expect({ name, results: run.results }).toEqual({ name, results: http.results });
      expect({ name, clientLog: run.clientLog }).toEqual({ name, clientLog: http.clientLog });
      expect({ name, serverEvents: run.serverEvents }).toEqual({ name, serverEvents: http.serverEvents });
    }
    expect(http.serverEvents).toEqual([
      "say sleep: timeoutMs set",
      "say sleep: signal aborted",
      "say sleep: timeoutMs none",
      "say sleep: signal aborted",
    ]);
  });
});
