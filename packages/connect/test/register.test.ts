/**
 * registerConnect and registerConnectRoutes: connect-es implementations
 * served by a protosocket server, called by protosocket clients (generated
 * definitions, not connect-es) and by connect-es clients over protosocket.
 */
import {
  Code as ConnectCode,
  ConnectError,
  createClient as createConnectClient,
  type HandlerContext,
  type Interceptor,
} from "@connectrpc/connect";
import {
  Code,
  connect,
  createClient,
  createContextKey,
  createMemoryTransport,
  createServer,
  RpcError,
  type Server,
  type ServerInterceptor,
} from "@protosocket/runtime";
import { ErrorInfoSchema } from "@protosocket/runtime/gen/google/rpc/error_details_pb.js";
import { Health } from "@protosocket/runtime/gen/protosocket/v1/health_pb.js";
import { ElizaService } from "@protosocket/gen/eliza/v1/eliza_pb.js";
import { ElizaServiceDefinition } from "@protosocket/gen/eliza/v1/eliza_protosocket.js";
import { EchoService } from "@protosocket/gen/echo/v1/echo_pb.js";
import { afterEach, describe, expect, it } from "vitest";
import { createProtosocketTransport, protosocketContext, registerConnect, registerConnectRoutes } from "../src/index.js";

const servers: Server[] = [];
const closers: (() => void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) c();
  for (const s of servers.splice(0)) await s.close({ graceMs: 0 });
});

/** Resolves once `check()` holds (polled; fails after a generous bound). */
async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 3000 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  if (!check()) throw new Error(`gave up waiting for ${what}`);
}

function track(server: Server): Server {
  servers.push(server);
  return server;
}

/** The tenant a protosocket server interceptor puts in the call's values. */
const kTenant = createContextKey("none");

describe("registerConnect", () => {
  it("serves a connect-es implementation to protosocket clients: metadata, trailers, values, peer", async () => {
    const fromInterceptor: ServerInterceptor = (next) => (req) => {
      req.contextValues.set(kTenant, req.metadata.get("tenant") ?? "unknown");
      return next(req);
    };
    const server = track(createServer({ interceptors: [fromInterceptor] }));
    const seen: Record<string, unknown>[] = [];
    registerConnect(server, ElizaService, {
      say(req, ctx: HandlerContext) {
        seen.push({
          header: ctx.requestHeader.get("authorization"),
          tenant: ctx.values.get(kTenant),
          peer: protosocketContext(ctx)?.peer.startsWith("127.0.0.1:"),
          protocol: ctx.protocolName,
          method: `${ctx.service.typeName}/${ctx.method.name}`,
          url: ctx.url.replace(/:\d+\//, ":PORT/"),
          timeoutMs: typeof ctx.timeoutMs(),
        });
        ctx.responseHeader.set("x-header", "h");
        ctx.responseTrailer.set("x-trailer", "t");
        return { sentence: `heard ${req.sentence}` };
      },
    });
    const { port } = await server.listen({ host: "127.0.0.1", port: 0 });
    const transport = await connect({ host: "127.0.0.1", port });
    closers.push(() => transport.close());
    const client = createClient(ElizaServiceDefinition, transport);
    let trailers: ReadonlyMap<string, string> | undefined;
    const res = await client.say(
      { sentence: "x" },
      { metadata: { Authorization: "Bearer t", tenant: "acme" }, timeoutMs: 10_000, onTrailer: (t) => (trailers = t) },
    );
    expect(res.sentence).toBe("heard x");
    expect(seen).toEqual([
      {
        header: "Bearer t",
        tenant: "acme",
        peer: true,
        protocol: "protosocket",
        method: "eliza.v1.ElizaService/Say",
        url: "protosocket://127.0.0.1:PORT/eliza.v1.ElizaService/Say",
        timeoutMs: "number",
      },
    ]);
    // Response headers travel with the trailers: protosocket has one response metadata, sent with the final frame.
    expect(Object.fromEntries(trailers ?? [])).toEqual({ "x-header": "h", "x-trailer": "t" });
  });

  it("sends a ConnectError as the RpcError of its code, message, details and metadata; other errors by the server's rules", async () => {
    const reported: string[] = [];
    const server = track(createServer({ onHandlerError: (e) => reported.push(`${Code[e.code]}: ${e.rawMessage}`) }));
    registerConnect(server, ElizaService, {
      say(req, ctx) {
        ctx.responseTrailer.set("x-trailer", "t");
        if (req.sentence === "plain") throw new Error("a secret path /etc/x");
        throw new ConnectError("not today", ConnectCode.Unavailable, { "x-retry": "later" }, [
          { desc: ErrorInfoSchema, value: { reason: "BUSY", domain: "eliza" } },
        ]);
      },
      async *introduce(_req, ctx) {
        ctx.responseTrailer.set("x-stream-trailer", "s");
        yield { sentence: "one" };
        throw new ConnectError("interrupted", ConnectCode.Aborted);
      },
    });
    const client = createClient(ElizaServiceDefinition, createMemoryTransport(server));
    let trailers: ReadonlyMap<string, string> | undefined;
    const e = (await client.say({ sentence: "x" }, { onTrailer: (t) => (trailers = t) }).catch((x: unknown) => x)) as RpcError;
    expect(e).toBeInstanceOf(RpcError);
    expect([e.code, e.rawMessage]).toEqual([Code.Unavailable, "not today"]);
    expect(e.findDetails(ErrorInfoSchema).map((d) => d.reason)).toEqual(["BUSY"]);
    expect(Object.fromEntries(trailers ?? [])).toEqual({ "x-trailer": "t", "x-retry": "later" });

    const plain = (await client.say({ sentence: "plain" }).catch((x: unknown) => x)) as RpcError;
    expect(plain.code).toBe(Code.Unknown);
    expect(plain.rawMessage).not.toContain("secret");
    expect(reported).toContain("Unknown: a secret path /etc/x");

    const got: string[] = [];
    trailers = undefined;
    const streamError = await (async () => {
      for await (const m of client.introduce({ name: "x" }, { onTrailer: (t) => (trailers = t) })) got.push(m.sentence);
    })().catch((x: unknown) => x as RpcError);
    expect(got).toEqual(["one"]);
    expect([streamError?.code, streamError?.rawMessage]).toEqual([Code.Aborted, "interrupted"]);
    expect(Object.fromEntries(trailers ?? [])).toEqual({ "x-stream-trailer": "s" });
  });

  it("answers the methods an implementation leaves out with unimplemented, as connect-es does", async () => {
    const server = track(createServer());
    registerConnect(server, ElizaService, { say: () => ({ sentence: "only this" }) });
    const eliza = createConnectClient(ElizaService, createProtosocketTransport({ transport: createMemoryTransport(server) }));
    expect((await eliza.say({})).sentence).toBe("only this");
    const e = await eliza.confide((async function* () {})()).catch((x: unknown) => x);
    expect(ConnectError.from(e).code).toBe(ConnectCode.Unimplemented);
  });

  it("runs connect-es interceptors around the handlers: request headers in, response headers and trailers out", async () => {
    const server = track(createServer());
    const stamp: Interceptor = (next) => async (req) => {
      req.header.set("x-stamped", "in");
      const res = await next(req);
      res.header.set("x-res-header", "out");
      res.trailer.set("x-res-trailer", req.stream ? "stream" : "unary");
      return res;
    };
    registerConnect(
      server,
      ElizaService,
      {
        say: (_req, ctx) => ({ sentence: ctx.requestHeader.get("x-stamped") ?? "none" }),
        async confide(requests) {
          let n = 0;
          for await (const _ of requests) n++;
          return { heard: n };
        },
      },
      { interceptors: [stamp] },
    );
    const eliza = createConnectClient(ElizaService, createProtosocketTransport({ transport: createMemoryTransport(server) }));
    let trailer: Headers | undefined;
    expect((await eliza.say({}, { onTrailer: (t) => (trailer = t) })).sentence).toBe("in");
    expect(Object.fromEntries(trailer ?? [])).toEqual({ "x-res-header": "out", "x-res-trailer": "unary" });
    async function* three() {
      for (let i = 0; i < 3; i++) yield { sentence: String(i) };
    }
    expect((await eliza.confide(three(), { onTrailer: (t) => (trailer = t) })).heard).toBe(3);
    expect(Object.fromEntries(trailer ?? [])).toEqual({ "x-res-header": "out", "x-res-trailer": "stream" });
  });

  it("stops a stream when its signal aborts or its deadline passes, on both sides", async () => {
    const server = track(createServer());
    const stopped: string[] = [];
    registerConnect(server, ElizaService, {
      async *introduce(req, ctx) {
        for (let n = 1; !ctx.signal.aborted; n++) {
          yield { sentence: `${req.name} ${n}` };
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        stopped.push(req.name);
      },
    });
    const { port } = await server.listen({ host: "127.0.0.1", port: 0 });
    const transport = createProtosocketTransport({ target: `127.0.0.1:${port}` });
    closers.push(() => transport.close());
    const eliza = createConnectClient(ElizaService, transport);

    const controller = new AbortController();
    const cancelled = await (async () => {
      for await (const m of eliza.introduce({ name: "cancel" }, { signal: controller.signal })) {
        if (m.sentence === "cancel 3") controller.abort();
      }
    })().catch((e: unknown) => ConnectError.from(e).code);
    expect(cancelled).toBe(ConnectCode.Canceled);

    const timedOut = await (async () => {
      for await (const _ of eliza.introduce({ name: "deadline" }, { timeoutMs: 100 }));
    })().catch((e: unknown) => ConnectError.from(e).code);
    expect(timedOut).toBe(ConnectCode.DeadlineExceeded);

    await until(() => stopped.includes("cancel") && stopped.includes("deadline"), "both handlers to stop");
  });

  it("refuses what it cannot serve, naming it", () => {
    const server = createServer();
    // A service without an envelope option is served in the standard envelope: not beside bound ones.
    const standard = createServer();
    registerConnect(standard, Health, {});
    expect(() => registerConnect(standard, ElizaService, {})).toThrow(/protosocket\.v1\.Health|standard/);
    expect(() => registerConnect(server, ElizaService, { say: "no" as never })).toThrow(/implementation of Say is not a function/);
    expect(() => registerConnect(server, ElizaService, {}, { defineFor: () => ({}) as never })).toThrow(/invalid option defineFor/);
    expect(() => registerConnect(server, ElizaService, {}, { interceptors: {} as never })).toThrow(/invalid option interceptors/);
    expect(() => registerConnectRoutes(server, "routes" as never)).toThrow(/invalid option routes/);
    // Another envelope pair than the services already registered: the server's own rule.
    registerConnect(server, ElizaService, {});
    expect(() => registerConnect(server, EchoService, {})).toThrow();
  });
});

describe("registerConnectRoutes", () => {
  it("serves router.service and router.rpc routes", async () => {
    const server = track(createServer());
    registerConnectRoutes(server, (router) =>
      router
        .rpc(ElizaService.method.say, (req) => ({ sentence: `rpc: ${req.sentence}` }))
        .rpc(ElizaService.method.introduce, async function* (req) {
          yield { sentence: `hello ${req.name}` };
        }),
    );
    const eliza = createConnectClient(ElizaService, createProtosocketTransport({ transport: createMemoryTransport(server) }));
    expect((await eliza.say({ sentence: "a" })).sentence).toBe("rpc: a");
    const out: string[] = [];
    for await (const m of eliza.introduce({ name: "b" })) out.push(m.sentence);
    expect(out).toEqual(["hello b"]);
    expect(() =>
      registerConnectRoutes(createServer(), (router) =>
        router.rpc(ElizaService.method.say, () => ({})).rpc(ElizaService.method.say, () => ({})),
      ),
    ).toThrow(/routed twice/);
  });
});
