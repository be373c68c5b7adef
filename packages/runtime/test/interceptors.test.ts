import type { AnyRequest } from "../src/call/request.js";
import { afterEach, describe, expect, it } from "vitest";
import {
  Code,
  connect,
  createClient,
  createContextKey,
  createContextValues,
  createMemoryTransport,
  createServer,
  RpcError,
  type ConnectionTransport,
  type Interceptor,
  type Server,
  type ServerInterceptor,
  type ServerRequest,
} from "../src/index.js";
import { echoImpl } from "./support/echo-server.js";
import { until } from "./support/reliability.js";
import { echoDef } from "./support/services.js";

const user = createContextKey<string | undefined>(undefined, { description: "user" });

describe("interceptors", () => {
  let server: Server | undefined;
  let transport: ConnectionTransport | undefined;
  afterEach(async () => {
    transport?.close();
    await server?.close({ graceMs: 0 });
  });

  async function start(over: "tcp" | "memory", serverInterceptors: ServerInterceptor[], clientInterceptors: Interceptor[] = []) {
    server = createServer({ interceptors: serverInterceptors });
    server.register(echoDef, echoImpl({ aborted: 0, streamsFinished: 0, yielded: 0 }));
    if (over === "tcp") {
      const { port } = await server.listen();
      transport = await connect({ port, interceptors: clientInterceptors });
    } else {
      transport = createMemoryTransport(server, { interceptors: clientInterceptors });
    }
    return transport;
  }

  for (const over of ["tcp", "memory"] as const) {
    it(`see the method, the peer, the request, the signal, the deadline and the values, in order (${over})`, async () => {
      const log: string[] = [];
      const seenClient: AnyRequest[] = [];
      const seenServer: ServerRequest[] = [];
      const outer: Interceptor = (next) => async (req) => {
        log.push(`client outer > ${req.methodName}`);
        seenClient.push(req);
        req.contextValues.set(user, "ada");
        const res = await next(req);
        log.push(`client outer < ${res.stream ? "stream" : "unary"}`);
        return res;
      };
      const inner: Interceptor = (next) => async (req) => {
        log.push(`client inner > ${req.contextValues.get(user)}`);
        return next(req);
      };
      const serverOuter: ServerInterceptor = (next) => async (req) => {
        log.push(`server > ${req.methodName} ${req.stream ? req.method.methodKind : (req.message as { $typeName: string }).$typeName}`);
        seenServer.push(req);
        req.contextValues.set(user, "from-server-interceptor");
        const res = await next(req);
        log.push(`server < ${res.stream ? "stream" : (res.message as { message: string }).message}`);
        return res;
      };
      const t = await start(over, [serverOuter], [outer, inner]);
      const client = createClient(echoDef, t);
      const ac = new AbortController();
      const r = await client.echo({ message: "hi" }, { signal: ac.signal, timeoutMs: 5000 });
      expect(r.message).toBe("hi");
      expect(log).toEqual([
        "client outer > echo.v1.EchoService/Echo",
        "client inner > ada",
        "server > echo.v1.EchoService/Echo echo.v1.EchoRequest",
        "server < hi",
        "client outer < unary",
      ]);
      const c = seenClient[0] as AnyRequest;
      expect(c.stream).toBe(false);
      expect(c.method.name).toBe("Echo");
      expect(c.service).toBe(echoDef);
      expect(c.peer).toBe(t.target);
      // One signal carries the caller's and the deadline.
      expect(c.signal.aborted).toBe(false);
      expect(c.deadline).toBeGreaterThan(Date.now());
      expect(c.deadline).toBeLessThanOrEqual(Date.now() + 5000);
      expect((c.message as unknown as { message: string }).message).toBe("hi");
      const srv = seenServer[0] as ServerRequest;
      expect(srv.peer).toMatch(over === "tcp" ? /^127\.0\.0\.1:\d+$/ : /^memory:\d+$/);
      expect(srv.ctx.contextValues.get(user)).toBe("from-server-interceptor");
      expect(srv.signal.aborted).toBe(false);
    });

    it(`observe each stream message, the end, and errors; and may short-circuit with an RpcError (${over})`, async () => {
      const seen: string[] = [];
      const observe: Interceptor = (next) => async (req) => {
        const res = await next(req);
        if (!res.stream) return res;
        const messages = res.message;
        return {
          ...res,
          message: (async function* () {
            try {
              for await (const m of messages) {
                seen.push(`item ${(m as unknown as { n: number }).n}`);
                yield m;
              }
              seen.push("end");
            } catch (e) {
              seen.push(`error ${(e as RpcError).code}`);
              throw e;
            }
          })(),
        };
      };
      const deny: ServerInterceptor = (next) => async (req) => {
        if ((req.message as unknown as { message?: string }).message === "forbidden") throw new RpcError(Code.PermissionDenied, "no");
        return next(req);
      };
      const t = await start(over, [deny], [observe]);
      const client = createClient(echoDef, t);
      const got: number[] = [];
      for await (const item of client.count({ count: 3 })) got.push(item.n);
      expect(got).toEqual([1, 2, 3]);
      expect(seen).toEqual(["item 1", "item 2", "item 3", "end"]);
      const err = await client.echo({ message: "forbidden" }).catch((e: unknown) => e);
      expect((err as RpcError).code).toBe(Code.PermissionDenied);
      expect((err as RpcError).rawMessage).toBe("no");
      const failed = await client.fail({ code: Code.NotFound, message: "gone" }).catch((e: unknown) => e);
      expect((failed as RpcError).code).toBe(Code.NotFound);
    });
  }

  it("client interceptors given to createClient wrap the transport's own, and a client-side short-circuit sends nothing", async () => {
    const order: string[] = [];
    const t = await start(
      "memory",
      [],
      [
        (next) => (req) => {
          order.push("transport");
          return next(req);
        },
      ],
    );
    const client = createClient(echoDef, t, {
      interceptors: [
        (next) => (req) => {
          order.push("client");
          if ((req.message as unknown as { message: string }).message === "cached") {
            return Promise.resolve({
              stream: false,
              message: { $typeName: "echo.v1.EchoResponse", message: "from cache", payload: new Uint8Array(0) } as never,
              trailer: new Map(),
            });
          }
          return next(req);
        },
      ],
    });
    expect((await client.echo({ message: "x" })).message).toBe("x");
    expect(order).toEqual(["client", "transport"]);
    expect((await client.echo({ message: "cached" })).message).toBe("from cache");
    expect(order).toEqual(["client", "transport", "client"]);
  });

  it("pass the call's values bag from CallOptions, and a deadline an interceptor shortens is kept", async () => {
    const values = createContextValues().set(user, "grace");
    let seenUser: string | undefined;
    const t = await start(
      "memory",
      [],
      [
        (next) => (req) => {
          seenUser = req.contextValues.get(user);
          return next({ ...req, deadline: Date.now() + 30 });
        },
      ],
    );
    const client = createClient(echoDef, t);
    const err = await client.echo({ message: "sleep:5000" }, { contextValues: values }).catch((e: unknown) => e);
    expect(seenUser).toBe("grace");
    expect((err as RpcError).code).toBe(Code.DeadlineExceeded);
  });

  it("server interceptors see the handler's signal abort when the client cancels", async () => {
    let signal: AbortSignal | undefined;
    const t = await start("memory", [
      (next) => (req) => {
        signal = req.signal;
        return next(req);
      },
    ]);
    const client = createClient(echoDef, t);
    const ac = new AbortController();
    const call = client.echo({ message: "sleep:5000" }, { signal: ac.signal }).catch((e: unknown) => e);
    await until(() => signal !== undefined, "the interceptor to run");
    ac.abort();
    expect(((await call) as RpcError).code).toBe(Code.Cancelled);
    await until(() => signal?.aborted === true, "the server-side signal to abort");
  });

  it("onHandlerError reports what handlers throw (as the outermost interceptor), not cancellations", async () => {
    const reported: string[] = [];
    server = createServer({ onHandlerError: (e, method) => reported.push(`${method} ${e.code}`) });
    server.register(echoDef, echoImpl({ aborted: 0, streamsFinished: 0, yielded: 0 }));
    transport = createMemoryTransport(server);
    const client = createClient(echoDef, transport);
    await client.fail({ code: Code.Internal, message: "boom" }).catch(() => undefined);
    const ac = new AbortController();
    const call = client.echo({ message: "sleep:5000" }, { signal: ac.signal }).catch(() => undefined);
    setTimeout(() => ac.abort(), 20);
    await call;
    await new Promise((r) => setTimeout(r, 20));
    expect(reported).toEqual([`echo.v1.EchoService/Fail ${Code.Internal}`]);
  });
});
