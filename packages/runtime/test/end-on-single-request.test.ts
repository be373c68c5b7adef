/**
 * A request that arrives with End for a method whose requests are one
 * message (unary, server streaming) is answered with `invalid_argument`
 * naming the method and the code, not left unanswered; the handler does not
 * run and the connection goes on serving.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Code, type Server } from "../src/index.js";
import { ControlCode, createEnvelopeCodec } from "../src/protocol.js";
import { startEchoServer, type EchoProbe } from "./support/echo-server.js";
import { frameOf, rawClient } from "./support/raw.js";
import { echoDef } from "./support/services.js";

const requests = createEnvelopeCodec(echoDef.requestEnvelope, echoDef.binding.request);

function request(id: number, code: ControlCode, body: "echo" | "count" | undefined): Uint8Array {
  const env = requests.create(BigInt(id), code);
  if (body === "echo") env.body = { case: "echo", value: { $typeName: "echo.v1.EchoRequest", message: "hi", payload: new Uint8Array(0) } };
  if (body === "count") env.body = { case: "count", value: { $typeName: "echo.v1.CountRequest", count: 3, payloadSize: 0, delayMs: 0 } };
  return frameOf(echoDef, "request", env);
}

describe("End on a unary or server-streaming request", () => {
  let server: Server | undefined;
  let probe: EchoProbe;
  afterEach(async () => {
    await server?.close({ graceMs: 0 });
    server = undefined;
  });

  it("is answered with invalid_argument naming the method and End; a caseless End is ignored; the connection serves on", async () => {
    const s = await startEchoServer();
    server = s.server;
    probe = s.probe;
    const peer = await rawClient(s.port, echoDef);
    peer.write(request(1, ControlCode.End, "echo"));
    peer.write(request(2, ControlCode.End, "count"));
    peer.write(request(3, ControlCode.End, undefined));
    peer.write(request(4, ControlCode.Normal, "echo"));
    await peer.waitFor(3);
    const byId = new Map(peer.received.map((env) => [Number(env.messageId), env]));
    for (const [id, method, kind] of [
      [1, "echo.v1.EchoService/Echo", "unary"],
      [2, "echo.v1.EchoService/Count", "server streaming"],
    ] as const) {
      const env = byId.get(id);
      expect(env?.controlCode).toBe(ControlCode.Normal);
      const body = env?.body as { case: string; value: { code: number; message: string } };
      expect(body.case).toBe("error");
      expect(body.value.code).toBe(Code.InvalidArgument);
      expect(body.value.message).toContain(`${method} (${kind}) arrived with control code End (2)`);
    }
    expect(byId.get(4)?.body).toMatchObject({ case: "echo" });
    expect(byId.has(3)).toBe(false);
    expect(probe.yielded).toBe(0);
    peer.socket.destroy();
  });
});
