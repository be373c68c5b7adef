import { afterEach, describe, expect, it } from "vitest";
import {
  Code,
  connect,
  createClient,
  createMemoryTransport,
  createServer,
  RpcError,
  type ConnectionTransport,
  type HandlerContext,
  type Interceptor,
  type Server,
  type ServerInterceptor,
} from "../src/index.js";
import { create } from "@bufbuild/protobuf";
import { frameOf, rawClient } from "./support/raw.js";
import { echoDef } from "./support/services.js";
import { until } from "./support/reliability.js";

/** What the server's handlers saw, per call. */
interface Seen {
  metadata: Record<string, string>;
  deadline: number | undefined;
  timeoutMs: number | undefined;
  aborted?: unknown;
}

describe("request context in the envelope: metadata, trailers, deadlines", () => {
  let server: Server | undefined;
  let transport: ConnectionTransport | undefined;
  afterEach(async () => {
    transport?.close();
    await server?.close({ graceMs: 0 });
  });

  async function start(over: "tcp" | "memory", interceptors: { client?: Interceptor[]; server?: ServerInterceptor[] } = {}) {
    const seen: Seen[] = [];
    const record = (ctx: HandlerContext) => {
      const s: Seen = { metadata: Object.fromEntries(ctx.metadata), deadline: ctx.deadline, timeoutMs: ctx.timeoutMs() };
      seen.push(s);
      ctx.signal.addEventListener("abort", () => (s.aborted = ctx.signal.reason));
      return s;
    };
    server = createServer({ interceptors: interceptors.server ?? [] });
    server.register(echoDef, {
      async echo(req, ctx) {
        record(ctx);
        ctx.trailers.set("served-by", "echo");
        if (req.message.startsWith("sleep:")) {
          await new Promise<void>((resolve, reject) => {
            const t = setTimeout(resolve, Number(req.message.slice(6)));
            ctx.signal.addEventListener(
              "abort",
              () => {
                clearTimeout(t);
                reject(ctx.signal.reason);
              },
              { once: true },
            );
          });
        }
        return { message: req.message };
      },
      async *count(req, ctx) {
        record(ctx);
        for (let n = 1; n <= req.count; n++) yield { n };
        ctx.trailers.set("items", String(req.count));
      },
      fail(req, ctx) {
        record(ctx);
        ctx.trailers.set("why", "asked to");
        throw new RpcError(req.code as Code, req.message);
      },
    });
    if (over === "tcp") {
      const { port } = await server.listen();
      transport = await connect({ port, interceptors: interceptors.client ?? [] });
    } else {
      transport = createMemoryTransport(server, { interceptors: interceptors.client ?? [] });
    }
    return { client: createClient(echoDef, transport), seen };
  }

  for (const over of ["tcp", "memory"] as const) {
    it(`carries metadata to the handler and trailers back, on unary, stream and error (${over})`, async () => {
      const { client, seen } = await start(over);
      const trailers: Record<string, string>[] = [];
      const onTrailer = (t: ReadonlyMap<string, string>) => trailers.push(Object.fromEntries(t));
      expect((await client.echo({ message: "hi" }, { metadata: { authorization: "Bearer t", "x-id": "1" }, onTrailer })).message).toBe(
        "hi",
      );
      const items: number[] = [];
      for await (const item of client.count({ count: 3 }, { metadata: new Map([["k", "v"]]), onTrailer })) items.push(item.n);
      expect(items).toEqual([1, 2, 3]);
      const err = await client
        .fail({ code: Code.NotFound, message: "gone" }, { metadata: [["a", "b"]], onTrailer })
        .catch((e: unknown) => e);
      expect((err as RpcError).code).toBe(Code.NotFound);
      expect(seen.map((s) => s.metadata)).toEqual([{ authorization: "Bearer t", "x-id": "1" }, { k: "v" }, { a: "b" }]);
      expect(trailers).toEqual([{ "served-by": "echo" }, { items: "3" }, { why: "asked to" }]);
      // A call without metadata sees an empty map; nothing travels.
      await client.echo({ message: "plain" });
      expect(seen[3]?.metadata).toEqual({});
    });

    it(`sends what is left of timeoutMs as the deadline; ctx.signal aborts when it passes and the call fails deadline_exceeded (${over})`, async () => {
      const { client, seen } = await start(over);
      const sentAt = Date.now();
      await client.echo({ message: "fast" }, { timeoutMs: 5000 });
      expect(seen[0]?.deadline).toBeGreaterThan(sentAt);
      expect(seen[0]?.deadline).toBeLessThanOrEqual(Date.now() + 5001);
      expect(seen[0]?.timeoutMs).toBeLessThanOrEqual(5000);
      expect(seen[0]?.timeoutMs).toBeGreaterThan(0);
      // A call without timeoutMs has no deadline on the server.
      await client.echo({ message: "none" });
      expect(seen[1]?.deadline).toBeUndefined();
      // Past the deadline the handler's signal aborts: by the server's own timer, or by the
      // client's Cancel when that arrives first (both run off the same deadline).
      const err = await client.echo({ message: "sleep:5000" }, { timeoutMs: 50 }).catch((e: unknown) => e);
      expect((err as RpcError).code).toBe(Code.DeadlineExceeded);
      await until(() => seen[2]?.aborted !== undefined, "the handler's signal to abort at the deadline");
      expect([Code.DeadlineExceeded, Code.Cancelled]).toContain((seen[2]?.aborted as RpcError | undefined)?.code);
    });
  }

  it("stops a handler at the deadline the request carries and answers deadline_exceeded itself, with no Cancel from the client", async () => {
    const { seen } = await start("tcp");
    const raw = await rawClient((server as Server & { address: { port: number } }).address.port, echoDef);
    const env = create(echoDef.requestEnvelope, {
      messageId: 1n,
      body: { case: "echo", value: { message: "sleep:5000" } },
      deadlineMs: 60n,
    } as never);
    raw.write(frameOf(echoDef, "request", env as never));
    await raw.waitFor(1);
    const answer = raw.received[0] as Record<string, unknown>;
    expect(answer.body).toMatchObject({ case: "error", value: { code: Code.DeadlineExceeded } });
    expect((seen[0]?.aborted as RpcError | undefined)?.code).toBe(Code.DeadlineExceeded);
    expect(seen[0]?.timeoutMs).toBeLessThanOrEqual(60);
    raw.socket.destroy();
  });

  it("lets interceptors read and write metadata and trailers on both sides", async () => {
    const clientSaw: string[] = [];
    const serverSaw: string[] = [];
    const { client, seen } = await start("tcp", {
      client: [
        (next) => async (req) => {
          req.metadata.set("traceparent", "00-abc-def-01");
          const res = await next(req);
          clientSaw.push(`trailer ${res.trailer.get("server-interceptor")}`);
          return res;
        },
      ],
      server: [
        (next) => async (req) => {
          serverSaw.push(`metadata ${req.metadata.get("traceparent")}`);
          req.ctx.trailers.set("server-interceptor", "yes");
          return next(req);
        },
      ],
    });
    let trailers: ReadonlyMap<string, string> | undefined;
    await client.echo({ message: "x" }, { metadata: { user: "ada" }, onTrailer: (t) => (trailers = t) });
    expect(seen[0]?.metadata).toEqual({ user: "ada", traceparent: "00-abc-def-01" });
    expect(serverSaw).toEqual(["metadata 00-abc-def-01"]);
    expect(clientSaw).toEqual(["trailer yes"]);
    expect(Object.fromEntries(trailers ?? [])).toEqual({ "served-by": "echo", "server-interceptor": "yes" });
  });

  it("passes a handler's signal and remaining deadline to a downstream call in one step (ctx.callOptions())", async () => {
    // An upstream server whose handler calls the echo server downstream with ctx.callOptions().
    const downstream = await start("tcp");
    const upstream = createServer();
    upstream.register(echoDef, {
      async echo(req, ctx) {
        return downstream.client.echo(req, ctx.callOptions());
      },
      async *count() {},
      fail() {
        throw new RpcError(Code.Unimplemented, "no");
      },
    });
    const { port } = await upstream.listen();
    const t = await connect({ port });
    try {
      const err = await createClient(echoDef, t)
        .echo({ message: "sleep:5000" }, { timeoutMs: 80 })
        .catch((e: unknown) => e);
      expect((err as RpcError).code).toBe(Code.DeadlineExceeded);
      // The downstream handler got the upstream call's deadline (less what had passed), and was stopped.
      expect(downstream.seen[0]?.timeoutMs).toBeLessThanOrEqual(80);
      await until(() => downstream.seen[0]?.aborted !== undefined, "the downstream handler to be stopped");
    } finally {
      t.close();
      await upstream.close({ graceMs: 0 });
    }
  });

  it("refuses metadata that is not strings, with invalid_argument naming the option", async () => {
    const { client } = await start("memory");
    const err = await client.echo({ message: "x" }, { metadata: { n: 1 as unknown as string } }).catch((e: unknown) => e);
    expect((err as RpcError).code).toBe(Code.InvalidArgument);
    expect((err as RpcError).rawMessage).toMatch(/invalid option metadata/);
  });
});
