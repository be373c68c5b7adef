/**
 * createCallRequest (on /protocol): a call's request built from its parts,
 * as a client API other than createClient's hands them over, runs on any
 * transport as createClient's requests do.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Code, createContextKey, createContextValues, createMemoryTransport, createServer, RpcError, type Server } from "../src/index.js";
import { createCallRequest } from "../src/protocol.js";
import { echoDef } from "./support/services.js";

const method = (name: string) => echoDef.service.methods.find((m) => m.name === name)!;

async function* one<T>(value: T): AsyncIterable<T> {
  yield value;
}

describe("createCallRequest", () => {
  let server: Server | undefined;
  afterEach(async () => {
    await server?.close({ graceMs: 0 });
  });

  function start() {
    const seen: { metadata: Record<string, string>; timeoutMs: number | undefined }[] = [];
    server = createServer();
    server.registerPartial(echoDef, {
      echo(req, ctx) {
        seen.push({ metadata: Object.fromEntries(ctx.metadata), timeoutMs: ctx.timeoutMs() });
        ctx.trailers.set("served", "yes");
        return { message: req.message };
      },
      async *count(req) {
        for (let n = 1; n <= req.count; n++) yield { n };
      },
      fail: (_req, ctx) => new Promise((_resolve, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason))),
    });
    return { transport: createMemoryTransport(server), seen };
  }

  it("builds a unary request that carries metadata, the deadline and the values, and runs on a transport", async () => {
    const { transport, seen } = start();
    const key = createContextKey("none");
    const values = createContextValues().set(key, "set");
    const { request, cleanup } = createCallRequest(
      transport,
      echoDef,
      method("Echo"),
      { message: "hi" },
      {
        metadata: { authorization: "token" },
        timeoutMs: 10_000,
        contextValues: values,
      },
    );
    expect(request).toMatchObject({ stream: false, methodName: "echo.v1.EchoService/Echo", peer: transport.target, key: undefined });
    expect(request.contextValues.get(key)).toBe("set");
    expect(request.deadline).toBeGreaterThan(Date.now());
    if (request.stream) throw new Error("a unary request");
    const res = await transport.unary(request);
    cleanup();
    expect(res.message).toMatchObject({ message: "hi" });
    expect(Object.fromEntries(res.trailer)).toEqual({ served: "yes" });
    expect(seen[0]?.metadata).toEqual({ authorization: "token" });
    expect(seen[0]?.timeoutMs).toBeGreaterThan(0);
  });

  it("builds a stream request of the messages given", async () => {
    const { transport } = start();
    const { request } = createCallRequest(transport, echoDef, method("Count"), one({ count: 3 }));
    if (!request.stream) throw new Error("a stream request");
    const res = await transport.stream(request);
    const ns: number[] = [];
    for await (const m of res.message) ns.push((m as { n: number }).n);
    expect(ns).toEqual([1, 2, 3]);
  });

  it("aborts the signal at the deadline with deadline_exceeded naming the method and the peer", async () => {
    const { transport } = start();
    const { request } = createCallRequest(transport, echoDef, method("Fail"), { code: 0 }, { timeoutMs: 50 });
    if (request.stream) throw new Error("a unary request");
    const failed = await transport.unary(request).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failed).toBeInstanceOf(RpcError);
    expect((failed as RpcError).code).toBe(Code.DeadlineExceeded);
    expect((failed as RpcError).message).toContain("echo.v1.EchoService/Fail");
    expect(request.signal.reason).toBeInstanceOf(RpcError);
  });

  it("refuses bad parts with invalid_argument naming them, and a streaming method's message that is not an AsyncIterable", () => {
    const { transport } = start();
    const bad = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e instanceof RpcError ? `${Code[e.code]}: ${e.rawMessage}` : String(e);
      }
      return "no error";
    };
    expect(bad(() => createCallRequest(transport, echoDef, method("Echo"), {}, { timeoutMs: -1 }))).toMatch(
      /^InvalidArgument: .*timeoutMs/,
    );
    expect(bad(() => createCallRequest(transport, echoDef, method("Echo"), {}, { metadata: { a: 1 as unknown as string } }))).toMatch(
      /^InvalidArgument: .*metadata/,
    );
    expect(bad(() => createCallRequest(transport, echoDef, method("Count"), { count: 1 }))).toMatch(/^InvalidArgument: .*AsyncIterable/);
  });
});
