/**
 * TypeScript client (the generated InteropServiceDefinition on @protosocket/runtime)
 * → the Rust interop-server built on protosocket-rpc 2.x, plain TCP and TLS.
 */
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { Code, connect, createClient, RpcError, type ConnectionTransport } from "@protosocket/runtime";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EchoResponseSchema, type StatsResponse } from "@protosocket/gen/interop/v1/interop_pb.js";
import { InteropServiceDefinition, type InteropServiceClient } from "@protosocket/gen/interop/v1/interop_service_protosocket.js";
import { rustPeersStatus, startRustServer, testCert, type RustServer } from "./rust-peers.js";

const status = rustPeersStatus();

if (status.failure !== undefined) {
  describe("TS client → Rust server", () => {
    it("needs the Rust interop binaries (CI is set)", () => {
      throw new Error(status.failure);
    });
  });
}

/** Polls Stats until `pick` grew past `before`; returns the last snapshot. */
async function waitForCounter(
  client: InteropServiceClient,
  pick: (s: StatsResponse) => bigint,
  before: bigint,
  what: string,
): Promise<StatsResponse> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const s = await client.stats({});
    if (pick(s) > before) return s;
    if (Date.now() > deadline) throw new Error(`the Rust server did not observe ${what} within 5 s (counter still ${pick(s)})`);
    await sleep(10);
  }
}

/** Byte equality (decoded bytes fields may be Buffer views). */
function sameBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual.byteLength).toBe(expected.byteLength);
  expect(
    Buffer.compare(
      Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength),
      Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength),
    ),
  ).toBe(0);
}

async function rejects(p: Promise<unknown>): Promise<RpcError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(RpcError);
  return e as RpcError;
}

describe.skipIf(!status.run)(
  `TS client → Rust server (plain TCP)${status.skipReason !== undefined ? ` — skipped: ${status.skipReason}` : ""}`,
  () => {
    let rust: RustServer;
    let transport: ConnectionTransport;
    let client: InteropServiceClient;

    beforeAll(async () => {
      rust = await startRustServer();
      transport = await connect({ host: "127.0.0.1", port: rust.port });
      client = createClient(InteropServiceDefinition, transport);
    });
    afterAll(async () => {
      transport?.close();
      await rust?.stop();
    });

    it("unary: echo comes back identical", async () => {
      const r = await client.echo({ message: "hello", payload: new Uint8Array([1, 2, 3, 4, 5]) });
      expect(r.message).toBe("hello");
      sameBytes(r.payload, new Uint8Array([1, 2, 3, 4, 5]));
    });

    it("empty message: an empty EchoRequest comes back as the echo case holding an empty EchoResponse", async () => {
      const r = await client.echo({});
      expect(r.message).toBe("");
      expect(r.payload.byteLength).toBe(0);
    });

    it("3 MiB message: every byte comes back", async () => {
      const payload = new Uint8Array(3 * 1024 * 1024);
      for (let i = 0; i < payload.length; i++) payload[i] = (i * 31 + 7) & 0xff;
      const r = await client.echo({ message: "large", payload });
      sameBytes(r.payload, payload);
    });

    it("1,000 concurrent calls on one connection, each answered with its own response", async () => {
      const n = 1_000;
      const results = await Promise.all(
        Array.from({ length: n }, (_, i) => client.echo({ message: `m${i}`, payload: new Uint8Array([i & 0xff, i >> 8]) })),
      );
      results.forEach((r, i) => {
        expect(r.message).toBe(`m${i}`);
        sameBytes(r.payload, new Uint8Array([i & 0xff, i >> 8]));
      });
      expect(transport.pendingCalls).toBe(0);
    });

    it("stream of 10: sequences 0..9 in order, End completes the iterator normally", async () => {
      const seqs: bigint[] = [];
      for await (const item of client.stream({ count: 10n, payloadSize: 8 })) {
        seqs.push(item.sequence);
        sameBytes(item.payload, new Uint8Array(8));
      }
      expect(seqs).toEqual(Array.from({ length: 10 }, (_, i) => BigInt(i)));
      expect(transport.pendingCalls).toBe(0);
    });

    it("stream of 100,000: every sequence in order, then End", async () => {
      let next = 0n;
      for await (const item of client.stream({ count: 100_000n, payloadSize: 16 })) {
        if (item.sequence !== next) expect(item.sequence).toBe(next);
        if (item.payload.byteLength !== 16) expect(item.payload.byteLength).toBe(16);
        next++;
      }
      expect(next).toBe(100_000n);
    });

    it("an empty stream (count 0) ends at once with End", async () => {
      const items: unknown[] = [];
      for await (const item of client.stream({ count: 0n })) items.push(item);
      expect(items).toEqual([]);
    });

    it("cancel mid-stream (leave the for-await): the Rust handler is dropped; the Cancel echo is ignored and the transport carries on", async () => {
      const before = (await client.stats({})).cancelledHandlers;
      let got = 0;
      for await (const item of client.stream({ count: 1_000_000n, payloadSize: 8, itemDelayMs: 1 })) {
        expect(item.sequence).toBe(BigInt(got));
        if (++got === 5) break;
      }
      expect(got).toBe(5);
      await waitForCounter(client, (s) => s.cancelledHandlers, before, "the stream's Cancel");
      // The echo of our Cancel arrived (or arrives) for an id the client has forgotten.
      expect((await client.echo({ message: "after cancel" })).message).toBe("after cancel");
      expect(transport.pendingCalls).toBe(0);
      expect(transport.isClosed).toBe(false);
    });

    it("cancel mid-unary (AbortSignal): cancelled on our side, the Rust sleep future is dropped, no response arrives", async () => {
      const before = (await client.stats({})).cancelledHandlers;
      const ac = new AbortController();
      const call = client.sleep({ ms: 10_000 }, { signal: ac.signal });
      await sleep(100);
      ac.abort();
      const err = await rejects(call);
      expect(err.code).toBe(Code.Cancelled);
      await waitForCounter(client, (s) => s.cancelledHandlers, before, "the unary Cancel");
      expect((await client.echo({ message: "after unary cancel" })).message).toBe("after unary cancel");
      expect(transport.pendingCalls).toBe(0);
    });

    it("timeoutMs cancels like an abort: deadline_exceeded here, the Rust handler observes the Cancel", async () => {
      const before = (await client.stats({})).cancelledHandlers;
      const err = await rejects(client.sleep({ ms: 10_000 }, { timeoutMs: 100 }));
      expect(err.code).toBe(Code.DeadlineExceeded);
      await waitForCounter(client, (s) => s.cancelledHandlers, before, "the timeout's Cancel");
    });

    it("sleep that is not cancelled answers after its delay", async () => {
      const r = await client.sleep({ ms: 20 });
      expect(r.sleptMs).toBe(20);
    });

    it("Status error: code, message and an EchoResponse detail packed in an Any", async () => {
      const err = await rejects(client.fail({ code: Code.NotFound, message: "not here", withDetails: true }));
      expect(err.code).toBe(Code.NotFound);
      expect(err.rawMessage).toBe("not here");
      expect(err.details).toHaveLength(1);
      const detail = err.details[0];
      expect(detail?.typeUrl).toBe("type.googleapis.com/interop.v1.EchoResponse");
      const unpacked = detail === undefined ? undefined : anyUnpack(detail, EchoResponseSchema);
      expect(unpacked?.message).toBe("detail");
    });

    it("Status error without details", async () => {
      const err = await rejects(client.fail({ code: Code.PermissionDenied, message: "no" }));
      expect(err.code).toBe(Code.PermissionDenied);
      expect(err.rawMessage).toBe("no");
      expect(err.details).toEqual([]);
    });

    it("reject: the Rust server's Cancel fails the call with cancelled; its rejected counter grows", async () => {
      const before = (await client.stats({})).rejected;
      const err = await rejects(client.reject({}));
      expect(err.code).toBe(Code.Cancelled);
      expect(err.rawMessage).toContain("cancelled by the server");
      const after = await client.stats({});
      expect(after.rejected).toBe(before + 1n);
      expect((await client.echo({ message: "after reject" })).message).toBe("after reject");
    });

    it("stats: completed grows, no counter goes down", async () => {
      const a = await client.stats({});
      await client.echo({ message: "x" });
      const b = await client.stats({});
      expect(b.completed).toBeGreaterThanOrEqual(a.completed + 1n);
      expect(b.cancelledHandlers).toBeGreaterThanOrEqual(a.cancelledHandlers);
      expect(b.rejected).toBeGreaterThanOrEqual(a.rejected);
    });
  },
);

describe.skipIf(!status.run)(
  `TS client → Rust server (TLS, rustls with a self-signed certificate)${status.skipReason !== undefined ? ` — skipped: ${status.skipReason}` : ""}`,
  () => {
    let rust: RustServer;
    beforeAll(async () => {
      rust = await startRustServer({ tls: true });
    });
    afterAll(async () => {
      await rust?.stop();
    });

    for (const version of ["TLSv1.3", "TLSv1.2"] as const) {
      it(`${version}: unary, stream, error and a 3 MiB message over TLS, trusting the test certificate`, async () => {
        const transport = await connect({
          host: "127.0.0.1",
          port: rust.port,
          tls: { ca: testCert.cert, servername: "localhost", minVersion: version, maxVersion: version },
        });
        try {
          const client = createClient(InteropServiceDefinition, transport);
          expect((await client.echo({ message: "over tls" })).message).toBe("over tls");
          let n = 0;
          for await (const item of client.stream({ count: 1_000n, payloadSize: 4 })) expect(item.sequence).toBe(BigInt(n++));
          expect(n).toBe(1_000);
          const err = await rejects(client.fail({ code: Code.NotFound, message: "not here", withDetails: true }));
          expect(err.code).toBe(Code.NotFound);
          const payload = new Uint8Array(3 * 1024 * 1024).fill(0xa5);
          sameBytes((await client.echo({ payload })).payload, payload);
        } finally {
          transport.close();
        }
      });
    }

    it("refuses the Rust server when the certificate is not trusted", async () => {
      const err = await connect({ host: "127.0.0.1", port: rust.port, tls: { servername: "localhost" } }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RpcError);
      expect((err as RpcError).code).toBe(Code.Unavailable);
    });
  },
);
