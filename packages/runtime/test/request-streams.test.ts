/**
 * Client-streaming and bidi-streaming calls (an extension beyond the Rust
 * crate), end to end over TCP and the memory transport: results, errors,
 * cancellation from either side, deadlines, the server's limits, and calls
 * whose client never ends its requests.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import {
  Code,
  connect,
  createClient,
  createMemoryTransport,
  createServer,
  RpcError,
  type ConnectionTransport,
  type Interceptor,
  type Server,
  type ServerInterceptor,
  type ServerOptions,
} from "../src/index.js";
import { until } from "./support/reliability.js";
import {
  chunks,
  startStreamingServer,
  streamingDef,
  streamingImpl,
  createStreamingProbe,
  type StreamingProbe,
} from "./support/streaming.js";

/** Chat messages 1..n (text `m<seq>`, or what `texts` says), counting what was pulled. */
function messages(
  n: number,
  options: { texts?: Record<number, string>; counter?: { pulled: number; returned: boolean }; delayMs?: number; endless?: boolean } = {},
): AsyncIterable<{ seq: number; text: string }> {
  const counter = options.counter;
  return (async function* () {
    try {
      for (let seq = 1; options.endless === true || seq <= n; seq++) {
        if (options.delayMs !== undefined) await sleep(options.delayMs);
        if (counter !== undefined) counter.pulled++;
        yield { seq, text: options.texts?.[seq] ?? `m${seq}` };
      }
    } finally {
      if (counter !== undefined) counter.returned = true;
    }
  })();
}

/** A request stream that yields `first` items, then never yields again and never ends. */
function stalling<T>(first: T[], counter?: { pulled: number }): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator]() {
      let i = 0;
      return {
        next: () => {
          if (i < first.length) {
            if (counter !== undefined) counter.pulled++;
            return Promise.resolve({ value: first[i++] as T, done: false });
          }
          return new Promise<IteratorResult<T>>(() => {});
        },
      };
    },
  };
}

async function rejection(p: Promise<unknown>): Promise<RpcError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(RpcError);
    return e as RpcError;
  }
  throw new Error("expected the call to fail");
}

async function drain(it: AsyncIterable<{ seq: number }>): Promise<{ seqs: number[]; error: RpcError | undefined }> {
  const seqs: number[] = [];
  try {
    for await (const m of it) seqs.push(m.seq);
  } catch (e) {
    expect(e).toBeInstanceOf(RpcError);
    return { seqs, error: e as RpcError };
  }
  return { seqs, error: undefined };
}

describe("client and bidi streaming", () => {
  let server: Server | undefined;
  let transport: ConnectionTransport | undefined;
  let probe: StreamingProbe;
  afterEach(async () => {
    transport?.close();
    await server?.close({ graceMs: 0 });
    server = undefined;
    transport = undefined;
  });

  async function start(over: "tcp" | "memory", options: ServerOptions = {}, connectOptions: { maxFrameBytes?: number } = {}) {
    const s = await startStreamingServer(options);
    server = s.server;
    probe = s.probe;
    transport = over === "tcp" ? await connect({ port: s.port, ...connectOptions }) : createMemoryTransport(s.server, connectOptions);
    return createClient(streamingDef, transport);
  }

  for (const over of ["tcp", "memory"] as const) {
    describe(over, () => {
      it("uploads 10,000 chunks and gets one summary", async () => {
        const client = await start(over);
        const r = await client.upload(chunks(10_000, 16));
        expect(r).toMatchObject({ chunks: 10_000, bytes: 160_000n, lastSeq: 10_000, note: "done" });
        expect(transport?.pendingCalls).toBe(0);
        await until(() => probe.running === 0, "the handler to finish");
        expect(probe.received).toBe(10_000);
      });

      it("opens a call with no messages when the requests are empty (End is its first frame)", async () => {
        const client = await start(over);
        expect(await client.upload(chunks(0))).toMatchObject({ chunks: 0, bytes: 0n, note: "done" });
        expect(await drain(client.chat(messages(0)))).toEqual({ seqs: [], error: undefined });
        expect(probe.started).toBe(2);
      });

      it("bidi: answers each message in order, while the requests are still being sent", async () => {
        const client = await start(over);
        const { seqs, error } = await drain(client.chat(messages(5_000)));
        expect(error).toBeUndefined();
        expect(seqs).toEqual(Array.from({ length: 5_000 }, (_, i) => i + 1));
        // A true conversation: each answer arrives before the next request is produced.
        const replies: string[] = [];
        let answered: (() => void) | undefined;
        const turns = (async function* () {
          for (let seq = 1; seq <= 20; seq++) {
            yield { seq, text: `turn ${seq}` };
            await new Promise<void>((r) => (answered = r));
          }
        })();
        for await (const m of client.chat(turns)) {
          replies.push(m.text);
          answered?.();
        }
        expect(replies).toEqual(Array.from({ length: 20 }, (_, i) => `turn ${i + 1}`));
      });

      it("client streaming: a response before the requests end stops pulling them; the server drops the rest", async () => {
        const client = await start(over);
        const counter = { pulled: 0, returned: false };
        const r = await client.upload(chunks(0, 8, { endless: true, counter, notes: { 10: "answer" } }));
        expect(r).toMatchObject({ chunks: 10, lastSeq: 10, note: "answered early" });
        await until(() => counter.returned, "the request iterator to be returned");
        const pulled = counter.pulled;
        await sleep(50);
        expect(counter.pulled).toBe(pulled);
        // The connection and the server are fine: the next call works, no handler is left.
        expect(await client.upload(chunks(3))).toMatchObject({ chunks: 3 });
        await until(() => probe.running === 0, "the handlers to finish");
        expect(probe.started).toBe(2);
      });

      it("fails with the handler's error, mid-upload and mid-chat, and stops pulling the requests", async () => {
        const client = await start(over);
        const counter = { pulled: 0, returned: false };
        const e = await rejection(client.upload(chunks(0, 0, { endless: true, counter, notes: { 3: `fail:${Code.NotFound}` } })));
        expect(e.code).toBe(Code.NotFound);
        expect(e.rawMessage).toBe("upload failed at chunk 3");
        await until(() => counter.returned, "the request iterator to be returned");
        const chat = await drain(client.chat(messages(10, { texts: { 4: `fail:${Code.FailedPrecondition}` } })));
        expect(chat.seqs).toEqual([1, 2, 3]);
        expect(chat.error?.code).toBe(Code.FailedPrecondition);
      });

      it("fails with what the requests iterable throws, and cancels the call on the server", async () => {
        const client = await start(over);
        async function* broken(kind: "rpc" | "plain") {
          yield { seq: 1 };
          yield { seq: 2 };
          await until(() => probe.received >= 2, "the handler to read two chunks");
          throw kind === "rpc" ? new RpcError(Code.DataLoss, "disk gone") : new Error("oops");
        }
        const a = await rejection(client.upload(broken("rpc")));
        expect(a.code).toBe(Code.DataLoss);
        expect(a.rawMessage).toBe("disk gone");
        expect(a.method).toBe("streaming.v1.StreamingService/Upload");
        await until(() => probe.running === 0, "the handler to stop");
        expect(probe.aborted).toBe(1);
        expect(probe.inputErrors).toEqual([Code.Cancelled]);
        probe.received = 0;
        const b = await rejection(client.upload(broken("plain")));
        expect(b.code).toBe(Code.Unknown);
        expect(b.rawMessage).toBe("the request stream failed: oops");
        await until(() => probe.running === 0, "the handler to stop");
        expect(probe.aborted).toBe(2);
      });

      it("refuses requests that are not an AsyncIterable, or too large to send", async () => {
        const client = await start(over, {}, { maxFrameBytes: 1024 });
        const e = await rejection(client.upload([{ seq: 1 }] as never));
        expect(e.code).toBe(Code.InvalidArgument);
        expect(e.rawMessage).toMatch(/must be an AsyncIterable/);
        const counter = { pulled: 0, returned: false };
        const big = await rejection(client.upload(chunks(5, 4096, { counter })));
        expect(big.code).toBe(Code.ResourceExhausted);
        expect(big.rawMessage).toMatch(/^request not sent/);
        expect(counter.returned).toBe(true);
        // A chunk too large in the middle: the call is cancelled on the server.
        const mixed = (async function* () {
          yield { seq: 1, data: new Uint8Array(10) };
          await until(() => probe.received >= 1, "the first chunk");
          yield { seq: 2, data: new Uint8Array(4096) };
        })();
        expect((await rejection(client.upload(mixed))).code).toBe(Code.ResourceExhausted);
        await until(() => probe.running === 0 && probe.aborted === 1, "the handler to be cancelled");
      });

      it("cancels mid-upload from the client (AbortSignal): the handler's signal aborts and its requests throw cancelled", async () => {
        const client = await start(over);
        const ac = new AbortController();
        const counter = { pulled: 0, returned: false };
        const call = client.upload(chunks(0, 0, { endless: true, delayMs: 1, counter }), { signal: ac.signal });
        await until(() => probe.received >= 20, "20 chunks to arrive");
        ac.abort();
        const e = await rejection(call);
        expect(e.code).toBe(Code.Cancelled);
        await until(() => probe.running === 0, "the handler to stop");
        expect(probe.aborted).toBe(1);
        expect(probe.inputErrors).toEqual([Code.Cancelled]);
        await until(() => counter.returned, "the request iterator to be returned");
        expect(transport?.pendingCalls).toBe(0);
      });

      it("cancels mid-upload from the server (a handler that gives up with cancelled): the client stops sending", async () => {
        const client = await start(over);
        const counter = { pulled: 0, returned: false };
        const e = await rejection(client.upload(chunks(0, 0, { endless: true, counter, notes: { 50: `fail:${Code.Cancelled}` } })));
        expect(e.code).toBe(Code.Cancelled);
        expect(e.rawMessage).toBe("call cancelled by the server");
        await until(() => counter.returned, "the request iterator to be returned");
        const pulled = counter.pulled;
        await sleep(50);
        expect(counter.pulled).toBe(pulled);
        expect(await client.upload(chunks(2))).toMatchObject({ chunks: 2 });
      });

      it("cancels a bidi call from either side: leaving the for-await, and a handler that gives up", async () => {
        const client = await start(over);
        const counter = { pulled: 0, returned: false };
        let n = 0;
        for await (const _ of client.chat(messages(0, { endless: true, delayMs: 1, counter }))) {
          if (++n === 10) break;
        }
        await until(() => probe.running === 0, "the handler to stop");
        expect(probe.aborted).toBe(1);
        await until(() => counter.returned, "the request iterator to be returned");
        const fromServer = await drain(client.chat(messages(0, { endless: true, texts: { 7: `fail:${Code.Cancelled}` } })));
        expect(fromServer.seqs).toEqual([1, 2, 3, 4, 5, 6]);
        expect(fromServer.error?.code).toBe(Code.Cancelled);
      });

      it("ends both kinds at the client's deadline (timeoutMs), with the handler stopped", async () => {
        const client = await start(over);
        const e = await rejection(client.upload(chunks(0, 0, { endless: true, delayMs: 2 }), { timeoutMs: 150 }));
        expect(e.code).toBe(Code.DeadlineExceeded);
        const chat = await drain(client.chat(messages(0, { endless: true, delayMs: 2 }), { timeoutMs: 150 }));
        expect(chat.error?.code).toBe(Code.DeadlineExceeded);
        expect(chat.seqs.length).toBeGreaterThan(0);
        await until(() => probe.running === 0, "the handlers to stop");
        expect(probe.aborted).toBe(2);
      });

      it("ends a call whose client never sends End at its deadline", async () => {
        const client = await start(over);
        const upload = await rejection(client.upload(stalling([{ seq: 1 }, { seq: 2 }, { seq: 3 }]), { timeoutMs: 200 }));
        expect(upload.code).toBe(Code.DeadlineExceeded);
        const chat = await drain(client.chat(stalling([{ seq: 1 }, { seq: 2 }]), { timeoutMs: 200 }));
        expect(chat.seqs).toEqual([1, 2]);
        expect(chat.error?.code).toBe(Code.DeadlineExceeded);
        await until(() => probe.running === 0, "the handlers to stop");
        expect(probe.received).toBe(5);
        expect(probe.inputErrors).toEqual([Code.Cancelled, Code.Cancelled]);
      });

      it("ends a call whose client never sends End at the server's requestStreamIdleTimeoutMs", async () => {
        const client = await start(over, { requestStreamIdleTimeoutMs: 150 });
        const upload = await rejection(client.upload(stalling([{ seq: 1 }, { seq: 2 }, { seq: 3 }])));
        expect(upload.code).toBe(Code.DeadlineExceeded);
        expect(upload.rawMessage).toBe("the request stream sent no message for 150 ms (requestStreamIdleTimeoutMs)");
        const chat = await drain(client.chat(stalling([{ seq: 1 }])));
        expect(chat.seqs).toEqual([1]);
        expect(chat.error?.code).toBe(Code.DeadlineExceeded);
        await until(() => probe.running === 0, "the handlers to stop");
        expect(probe.inputErrors).toEqual([Code.DeadlineExceeded, Code.DeadlineExceeded]);
        // A client that keeps sending, slower than nothing but faster than the limit, is not ended.
        const slow = await client.upload(chunks(12, 0, { delayMs: 40 }));
        expect(slow).toMatchObject({ chunks: 12, note: "done" });
        // Nor is a handler that is slow to read (messages wait unread): that is not the client's silence.
        expect(await client.upload(chunks(3, 0, { notes: { 1: "sleep:400" } }))).toMatchObject({ chunks: 3 });
      });

      it("refuses a request stream past maxConcurrentCallsPerConnection, and its later frames never open a call", async () => {
        const client = await start(over, { maxConcurrentCallsPerConnection: 1 });
        let release: (() => void) | undefined;
        const held = client.upload(
          (async function* () {
            yield { seq: 1 };
            await new Promise<void>((r) => (release = r));
            yield { seq: 2 };
          })(),
        );
        await until(() => probe.started === 1 && release !== undefined, "the first upload to start");
        const refused = await rejection(client.upload(chunks(200)));
        expect(refused.code).toBe(Code.ResourceExhausted);
        await sleep(50);
        expect(probe.started).toBe(1);
        release?.();
        expect(await held).toMatchObject({ chunks: 2, lastSeq: 2 });
        expect(await client.upload(chunks(200))).toMatchObject({ chunks: 200 });
      });

      it("fails open request streams with unavailable when the server shuts down", async () => {
        const client = await start(over);
        const upload = rejection(client.upload(stalling([{ seq: 1 }])));
        const chat = drain(client.chat(stalling([{ seq: 1, text: "hi" }])));
        await until(() => probe.started === 2 && probe.received === 2, "both calls to reach their handlers");
        await server?.close({ graceMs: 0 });
        expect((await upload).code).toBe(Code.Unavailable);
        expect((await chat).error?.code).toBe(Code.Unavailable);
        await until(() => probe.running === 0, "the handlers to stop");
        server = undefined;
      });
    });
  }

  for (const over of ["tcp", "memory"] as const) {
    it(`interceptors see both kinds, and may observe and change each request and response (${over})`, async () => {
      const log: string[] = [];
      const client: Interceptor = (next) => async (req) => {
        const kind = req.method.methodKind;
        log.push(`client > ${kind} ${req.methodName}`);
        if (!req.stream || (kind !== "client_streaming" && kind !== "bidi_streaming")) return next(req);
        const tagged = (async function* () {
          for await (const m of req.message) {
            const fields = m as unknown as { seq: number; note?: string };
            if ("note" in fields) fields.note = `tagged ${fields.seq}`;
            yield m;
          }
        })();
        const res = await next({ ...req, message: tagged });
        log.push(`client < ${kind}`);
        return res;
      };
      const serverSide: ServerInterceptor = (next) => async (req) => {
        const kind = req.method.methodKind;
        log.push(`server > ${kind}`);
        if (req.stream && (kind === "client_streaming" || kind === "bidi_streaming")) {
          const source = req.message;
          const seen: string[] = [];
          const counted = (async function* () {
            for await (const m of source) {
              const fields = m as unknown as { seq: number; note?: string };
              seen.push(fields.note ?? String(fields.seq));
              yield m;
            }
            log.push(`server read ${seen.join(",")}`);
          })();
          const res = await next({ ...req, message: counted, signal: req.signal });
          if (res.stream && kind === "bidi_streaming") {
            const out = res.message;
            return {
              ...res,
              message: (async function* () {
                for await (const m of out) yield { ...(m as object), text: `${String((m as unknown as { text: string }).text)}!` };
              })(),
            };
          }
          return res;
        }
        return next(req);
      };
      const s = await startStreamingServer({ interceptors: [serverSide] });
      server = s.server;
      transport =
        over === "tcp"
          ? await connect({ port: s.port, interceptors: [client] })
          : createMemoryTransport(s.server, { interceptors: [client] });
      const c = createClient(streamingDef, transport);
      expect(await c.upload(chunks(3))).toMatchObject({ chunks: 3 });
      const texts: string[] = [];
      for await (const m of c.chat(messages(2))) texts.push(m.text);
      expect(texts).toEqual(["m1!", "m2!"]);
      expect(log.join(" | ")).toBe(
        [
          "client > client_streaming streaming.v1.StreamingService/Upload",
          "server > client_streaming",
          "server read tagged 1,tagged 2,tagged 3",
          "client < client_streaming",
          "client > bidi_streaming streaming.v1.StreamingService/Chat",
          "client < bidi_streaming",
          "server > bidi_streaming",
          "server read 1,2",
        ].join(" | "),
      );
    });
  }

  it("a server interceptor that refuses a request stream ends it before its handler runs; the client stops sending", async () => {
    const refuse: ServerInterceptor = (next) => (req) => {
      if (req.method.methodKind === "client_streaming") throw new RpcError(Code.PermissionDenied, "no uploads");
      return next(req);
    };
    const s = await startStreamingServer({ interceptors: [refuse] });
    server = s.server;
    transport = await connect({ port: s.port });
    const c = createClient(streamingDef, transport);
    const counter = { pulled: 0, returned: false };
    const e = await rejection(c.upload(chunks(0, 0, { endless: true, counter })));
    expect(e.code).toBe(Code.PermissionDenied);
    await until(() => counter.returned, "the request iterator to be returned");
    expect(s.probe.started).toBe(0);
    // createClient's own interceptors wrap any transport, for both kinds.
    const seen: string[] = [];
    const viaClient = createClient(streamingDef, transport, {
      interceptors: [
        (next) => (req) => {
          seen.push(req.method.methodKind);
          return next(req);
        },
      ],
    });
    expect((await drain(viaClient.chat(messages(3)))).seqs).toEqual([1, 2, 3]);
    expect(seen).toEqual(["bidi_streaming"]);
  });

  it("rejects invalid server options naming them", () => {
    for (const [name, value] of [
      ["requestStreamBufferMessages", 0],
      ["requestStreamBufferMessages", 1.5],
      ["requestStreamBufferMessages", Number.NaN],
      ["requestStreamBufferMessages", "8"],
      ["requestStreamIdleTimeoutMs", -1],
      ["requestStreamIdleTimeoutMs", Number.NaN],
    ] as const) {
      let error: unknown;
      try {
        createServer({ [name]: value } as ServerOptions);
      } catch (e) {
        error = e;
      }
      expect(error, `${name}: ${String(value)}`).toBeInstanceOf(RpcError);
      expect((error as RpcError).code).toBe(Code.InvalidArgument);
      expect((error as RpcError).rawMessage).toContain(`invalid option ${name}`);
    }
    expect(() => createServer({ requestStreamBufferMessages: 1, requestStreamIdleTimeoutMs: Number.POSITIVE_INFINITY })).not.toThrow();
  });

  it("works through createClient over any Transport: the client's methods exist for both kinds", () => {
    const s = createServer();
    const p = createStreamingProbe();
    s.register(streamingDef, streamingImpl(p));
    const t = createMemoryTransport(s);
    const client = createClient(streamingDef, t);
    expect(typeof client.upload).toBe("function");
    expect(typeof client.chat).toBe("function");
    expect(typeof client.ping).toBe("function");
    t.close();
  });
});
