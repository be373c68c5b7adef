import { afterEach, describe, expect, it } from "vitest";
import { Code, connect, createClient, RpcError, type Server, type ConnectionTransport } from "../src/index.js";
import { startEchoServer } from "./support/echo-server.js";
import { echoDef } from "./support/services.js";

describe("echo over loopback TCP", () => {
  let server: Server | undefined;
  let transport: ConnectionTransport | undefined;
  afterEach(async () => {
    transport?.close();
    await server?.close({ graceMs: 0 });
  });

  it("answers unary, streaming and error calls", async () => {
    const s = await startEchoServer();
    server = s.server;
    transport = await connect({ port: s.port });
    const client = createClient(echoDef, transport);
    const res = await client.echo({ message: "hello", payload: new Uint8Array([1, 2, 3]) });
    expect(res.message).toBe("hello");
    expect([...res.payload]).toEqual([1, 2, 3]);
    const ns: number[] = [];
    for await (const item of client.count({ count: 5 })) ns.push(item.n);
    expect(ns).toEqual([1, 2, 3, 4, 5]);
    const err = await client.fail({ code: Code.NotFound, message: "no such thing" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe(Code.NotFound);
    expect((err as RpcError).rawMessage).toBe("no such thing");
    expect((err as RpcError).message).toContain("echo.v1.EchoService/Fail");
  });
});
