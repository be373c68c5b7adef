/**
 * What a client connection knows about whether a failed call ran: requests
 * still queued when the connection closed never left the process, and a
 * draining server's refusal (the protosocket.v1.Draining detail) covers that
 * request and every later one on the connection. A pool retries exactly
 * these calls whatever their method.
 */
import { create } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import type { ClientConnection } from "../src/client/client-connection.js";
import { carriesDraining, DRAINING_DETAIL } from "../src/draining.js";
import {
  Code,
  connect,
  createClient,
  createMemoryTransport,
  createServer,
  neverRan,
  RpcError,
  type ConnectionTransport,
} from "../src/index.js";
import { DrainingSchema } from "../src/gen/protosocket/v1/draining_pb.js";
import { StatusSchema } from "../src/gen/protosocket/v1/status_pb.js";
import { EchoResponseSchema } from "@protosocket/gen/echo/v1/echo_pb.js";
import { startEchoServer } from "./support/echo-server.js";
import { frameOf, rawServer } from "./support/raw.js";
import { startProbedServer, until } from "./support/reliability.js";
import { echoDef } from "./support/services.js";

let transport: ConnectionTransport | undefined;
afterEach(() => {
  transport?.close();
  transport = undefined;
});

const failure = (p: Promise<unknown>): Promise<RpcError> =>
  p.then(
    () => {
      throw new Error("the call succeeded");
    },
    (e: unknown) => e as RpcError,
  );

describe("calls that never ran", () => {
  it("a request still queued when the connection closes never left: the call is marked as never run", async () => {
    const { server, port } = await startEchoServer();
    try {
      transport = await connect({ port });
      const client = createClient(echoDef, transport);
      // Queued in this turn; the link writes on the next one.
      const pending = failure(client.echo({ message: "queued" }));
      (transport as unknown as ClientConnection).close(new RpcError(Code.Unavailable, "connection lost (test)"));
      const e = await pending;
      expect(e.code).toBe(Code.Unavailable);
      expect(neverRan(e)).toBe(true);
      // Calls on the closed connection are refused before anything is queued: never run either.
      const later = await failure(client.echo({ message: "later" }));
      expect(later.code).toBe(Code.Unavailable);
      expect(neverRan(later)).toBe(true);
    } finally {
      await server.close({ graceMs: 0 });
    }
  });

  it("a request that reached the server may have run: the call is not marked", async () => {
    const { server, port, probe } = await startProbedServer();
    try {
      transport = await connect({ port });
      const client = createClient(echoDef, transport);
      const pending = failure(client.echo({ message: "sleep:10000" }));
      await until(() => probe.total.started === 1, "the handler to start");
      (transport as unknown as ClientConnection).close(new RpcError(Code.Unavailable, "connection lost (test)"));
      const e = await pending;
      expect(e.code).toBe(Code.Unavailable);
      expect(neverRan(e)).toBe(false);
    } finally {
      await server.close({ graceMs: 0 });
    }
  });

  it("a server that is closing refuses new calls with the Draining detail; in-flight calls finish", async () => {
    const { server, port } = await startEchoServer();
    transport = await connect({ port });
    const client = createClient(echoDef, transport);
    const running = client.echo({ message: "sleep:300" });
    await until(() => server.connections === 1, "the connection");
    await new Promise((r) => setTimeout(r, 50));
    const closing = server.close({ graceMs: 10_000 });
    const refused = await failure(client.echo({ message: "after close" }));
    expect(refused.code).toBe(Code.Unavailable);
    expect(carriesDraining(refused.details)).toBe(true);
    expect(neverRan(refused)).toBe(true);
    expect((transport as unknown as ClientConnection).serverDraining).toBe(true);
    expect((await running).message).toBe("sleep:300");
    await closing;
  });

  it("the same over the in-memory transport", async () => {
    const server = createServer();
    const { echoImpl } = await import("./support/echo-server.js");
    server.register(echoDef, echoImpl({ aborted: 0, streamsFinished: 0, yielded: 0 }));
    transport = createMemoryTransport(server);
    const client = createClient(echoDef, transport);
    const running = client.echo({ message: "sleep:200" });
    await new Promise((r) => setTimeout(r, 20));
    const closing = server.close({ graceMs: 10_000 });
    const refused = await failure(client.echo({ message: "after close" }));
    expect(carriesDraining(refused.details)).toBe(true);
    expect(neverRan(refused)).toBe(true);
    await running;
    await closing;
  });

  it("after a Draining refusal, every later call on the connection is known not to have run, earlier ones are not", async () => {
    const idKey = echoDef.binding.response.id.localName;
    const codeKey = echoDef.binding.response.code.localName;
    const raw = await rawServer(echoDef, (peer) => {
      void peer.waitFor(3).then(() => {
        const second = peer.received[1];
        const status = create(StatusSchema, { code: Code.Unavailable, message: "draining (test)", details: [DRAINING_DETAIL] });
        peer.write(
          frameOf(echoDef, "response", {
            $typeName: "echo.v1.EchoResponseEnvelope",
            [idKey]: second?.[idKey],
            [codeKey]: 0,
            body: { case: "error", value: status },
          } as never),
        );
        // Then the connection goes away with calls 1 and 3 unanswered.
        setTimeout(() => peer.socket.destroy(), 20);
      });
    });
    try {
      transport = await connect({ port: raw.port });
      const client = createClient(echoDef, transport);
      const [e1, e2, e3] = await Promise.all([1, 2, 3].map((n) => failure(client.echo({ message: `call ${n}` }))));
      expect(e2?.code).toBe(Code.Unavailable);
      expect(carriesDraining(e2?.details ?? [])).toBe(true);
      expect(e1?.code).toBe(Code.Unavailable);
      expect(e3?.code).toBe(Code.Unavailable);
      expect([neverRan(e1), neverRan(e2), neverRan(e3)]).toEqual([false, true, true]);
    } finally {
      await raw.close();
    }
  });

  it("a server's closing notice (Draining for id 0, its last frame): calls it did not answer never ran", async () => {
    const idKey = echoDef.binding.response.id.localName;
    const codeKey = echoDef.binding.response.code.localName;
    const raw = await rawServer(echoDef, (peer) => {
      void peer.waitFor(3).then(() => {
        const first = peer.received[0];
        peer.write(
          frameOf(echoDef, "response", {
            $typeName: "echo.v1.EchoResponseEnvelope",
            [idKey]: first?.[idKey],
            [codeKey]: 0,
            body: { case: "echo", value: create(EchoResponseSchema, { message: "one" }) },
          } as never),
        );
        const status = create(StatusSchema, { code: Code.Unavailable, message: "shutting down (test)", details: [DRAINING_DETAIL] });
        peer.write(
          frameOf(echoDef, "response", {
            $typeName: "echo.v1.EchoResponseEnvelope",
            [idKey]: 0n,
            [codeKey]: 0,
            body: { case: "error", value: status },
          } as never),
        );
        peer.socket.end();
      });
    });
    try {
      transport = await connect({ port: raw.port });
      const client = createClient(echoDef, transport);
      const [r1, e2, e3] = await Promise.all([
        client.echo({ message: "1" }),
        failure(client.echo({ message: "2" })),
        failure(client.echo({ message: "3" })),
      ]);
      expect(r1.message).toBe("one");
      expect([e2.code, e3.code]).toEqual([Code.Unavailable, Code.Unavailable]);
      expect([neverRan(e2), neverRan(e3)]).toEqual([true, true]);
      expect((transport as unknown as ClientConnection).serverDraining).toBe(true);
    } finally {
      await raw.close();
    }
  });

  it("without that notice, calls unanswered when the server goes away may have run", async () => {
    const raw = await rawServer(echoDef, (peer) => {
      void peer.waitFor(2).then(() => peer.socket.end());
    });
    try {
      transport = await connect({ port: raw.port });
      const client = createClient(echoDef, transport);
      const errors = await Promise.all([failure(client.echo({ message: "1" })), failure(client.echo({ message: "2" }))]);
      expect(errors.map((e) => [e.code, neverRan(e)])).toEqual([
        [Code.Unavailable, false],
        [Code.Unavailable, false],
      ]);
    } finally {
      await raw.close();
    }
  });

  it("a real server ends each connection with that notice when it shuts down", async () => {
    const { server, port } = await startEchoServer();
    transport = await connect({ port });
    const client = createClient(echoDef, transport);
    const running = client.echo({ message: "sleep:100" });
    await until(() => server.connections === 1, "the connection");
    await new Promise((r) => setTimeout(r, 20));
    await server.close({ graceMs: 5_000 });
    expect((await running).message).toBe("sleep:100");
    expect((transport as unknown as ClientConnection).serverDraining).toBe(true);
  });

  it("the Draining detail is the generated protosocket.v1.Draining message packed in an Any", () => {
    expect(DRAINING_DETAIL.typeUrl).toBe(`type.googleapis.com/${DrainingSchema.typeName}`);
    expect(DRAINING_DETAIL.value.length).toBe(0);
    expect(carriesDraining([])).toBe(false);
  });
});
