/**
 * Fuzzing a live server: arbitrary byte streams and arbitrary
 * well-formed envelopes, each run on its own raw connection, while a healthy
 * client on another connection keeps calling.
 *
 * Properties, checked after every run:
 * - no exception escapes (process traps stay empty);
 * - the connection's handlers all finish once it closes (no leaked calls);
 * - a connection the server closes has a reason (onConnectionError);
 * - every well-formed Normal request gets exactly one terminal answer
 *   (a response, an error case, End after its items, or Cancel) unless the
 *   server closed the connection with a reason;
 * - the healthy client never sees a failure.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, createClient, createServer, type ConnectionTransport, type RpcError, type Server } from "../src/index.js";
import { createEnvelopeCodec } from "../src/protocol.js";
import { rawClient, type RawPeer } from "./support/raw.js";
import { pb, sleep, startProbedServer, trapProcessErrors, until, whenClosed } from "./support/reliability.js";
import { echoDef } from "./support/services.js";
import { chunks, createStreamingProbe, streamingDef, streamingImpl, type StreamingProbe } from "./support/streaming.js";

const MAX_ID = 2n ** 64n - 1n;

/** The body of a request envelope, as the fuzzer picks it. */
type Body =
  | { kind: "echo"; message: string; payload: number }
  | { kind: "sleep"; ms: number }
  | { kind: "count"; count: number; delayMs: number; payloadSize: number }
  | { kind: "fail"; code: number; message: string }
  /** No body case at all. */
  | { kind: "none" }
  /** Field 15, the response envelope's error case: unknown to the request envelope. */
  | { kind: "wrongCase" }
  /** The Count case carrying a message of the wrong shape (EchoRequest bytes). */
  | { kind: "mistyped" }
  /** Two cases of the oneof in one envelope: the last one wins. */
  | { kind: "twoCases"; count: number };

/** One step of a conversation. */
type Op =
  | { op: "call"; id: bigint; body: Body }
  /** A non-Normal control code (Cancel 1, End 2, unknown ≥ 3), maybe with a body. */
  | { op: "control"; id: bigint; code: number; body: Body }
  /** Count of a billion items, cancelled at once. */
  | { op: "hugeCount"; id: bigint }
  | { op: "pause"; ms: number };

function bodyBytes(body: Body): number[] {
  switch (body.kind) {
    case "echo":
      return pb.bytes(3, [...pb.string(1, body.message), ...pb.bytes(2, new Uint8Array(body.payload).fill(0xab))]);
    case "sleep":
      return pb.bytes(3, pb.string(1, `sleep:${body.ms}`));
    case "count":
      return pb.bytes(4, [...pb.uint(1, body.count), ...pb.uint(2, body.delayMs), ...pb.uint(3, body.payloadSize)]);
    case "fail":
      return pb.bytes(5, [...pb.uint(1, BigInt(body.code)), ...pb.string(2, body.message)]);
    case "none":
      return [];
    case "wrongCase":
      return pb.bytes(15, [...pb.uint(1, 5), ...pb.string(2, "not a request")]);
    case "mistyped":
      return pb.bytes(4, pb.string(1, "hello"));
    case "twoCases":
      return [...pb.bytes(3, pb.string(1, "first")), ...pb.bytes(4, pb.uint(1, body.count))];
  }
}

/** A request frame; zero-valued id and code are written explicitly when `explicit`. */
function envelopeFrame(id: bigint, code: number, body: Body, explicit: boolean): Uint8Array {
  const head = [...(id !== 0n || explicit ? pb.uint(1, id) : []), ...(code !== 0 || explicit ? pb.uint(2, code) : [])];
  return pb.frame([...head, ...bodyBytes(body)]);
}

const idArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(0n, 1n, 2n, 3n, MAX_ID) },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: MAX_ID }) },
);
const bodyArb: fc.Arbitrary<Body> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant("echo" as const), message: fc.string({ maxLength: 20 }), payload: fc.nat({ max: 2048 }) }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("sleep" as const), ms: fc.nat({ max: 40 }) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("count" as const),
      count: fc.nat({ max: 30 }),
      delayMs: fc.nat({ max: 2 }),
      payloadSize: fc.nat({ max: 64 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("fail" as const),
      code: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
      message: fc.string({ maxLength: 20 }),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: "none" as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: "wrongCase" as const }) },
  // Undecodable: the server closes the connection, so keep it rare enough that most runs check every answer.
  { weight: 1, arbitrary: fc.constant({ kind: "mistyped" as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("twoCases" as const), count: fc.nat({ max: 5 }) }) },
);
const controlCodeArb = fc.oneof(fc.constantFrom(1, 2, 3, 255, 2 ** 32 - 1), fc.integer({ min: 3, max: 2 ** 32 - 1 }));
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant("call" as const), id: idArb, body: bodyArb }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("control" as const),
      id: idArb,
      code: controlCodeArb,
      body: fc.oneof(fc.constant({ kind: "none" as const }), bodyArb),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("hugeCount" as const), id: idArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("pause" as const), ms: fc.nat({ max: 5 }) }) },
);
const conversationArb = fc.record({
  ops: fc.array(opArb, { minLength: 1, maxLength: 25 }),
  explicitDefaults: fc.boolean(),
  coalesce: fc.boolean(),
});

/** Valid request frames, to build byte streams that get past the first frame. */
const validFrameArb = fc.oneof(
  fc.tuple(idArb, bodyArb).map(([id, body]) => envelopeFrame(id, 0, body, false)),
  fc.tuple(idArb, controlCodeArb).map(([id, code]) => envelopeFrame(id, code, { kind: "none" }, false)),
);
/** Arbitrary byte streams: noise, prefix-like bytes, and valid frames with mutations and truncations. */
const byteStreamsOf = (validFrames: fc.Arbitrary<Uint8Array>, maxFrames = 6): fc.Arbitrary<Uint8Array> =>
  fc.oneof(
    fc.uint8Array({ minLength: 1, maxLength: 512 }),
    fc
      .array(fc.constantFrom(0x00, 0x01, 0x02, 0x05, 0x08, 0x0a, 0x10, 0x1a, 0x22, 0x7f, 0x80, 0xff), { minLength: 1, maxLength: 64 })
      .map((a) => new Uint8Array(a)),
    fc
      .tuple(
        fc.array(validFrames, { minLength: 1, maxLength: maxFrames }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.option(fc.nat()),
      )
      .map(([frames, flips, cut]) => {
        const bytes = new Uint8Array(frames.reduce((n, f) => n + f.byteLength, 0));
        let at = 0;
        for (const f of frames) {
          bytes.set(f, at);
          at += f.byteLength;
        }
        for (const [pos, value] of flips) bytes[pos % bytes.byteLength] = value;
        return cut === null ? bytes : bytes.subarray(0, 1 + (cut % bytes.byteLength));
      }),
  );
/** A byte stream and where to split it into separate writes. */
const chunkedOf = (byteStreams: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array[]> =>
  fc.tuple(byteStreams, fc.array(fc.nat(), { maxLength: 4 })).map(([bytes, cuts]) => {
    const points = [...new Set(cuts.map((c) => c % bytes.byteLength))].filter((p) => p > 0).sort((a, b) => a - b);
    const chunks: Uint8Array[] = [];
    let from = 0;
    for (const p of points) {
      chunks.push(bytes.subarray(from, p));
      from = p;
    }
    chunks.push(bytes.subarray(from));
    return chunks;
  });
const chunkedArb = chunkedOf(byteStreamsOf(validFrameArb));

/**
 * A raw client whose `closed` promise may reject (raw.ts builds it with
 * `once(socket, "close")`, which rejects on a socket error such as EPIPE
 * after the server closed): handled here so it is not an unhandled rejection.
 */
async function openRaw(port: number): Promise<RawPeer> {
  const raw = await rawClient(port, echoDef);
  raw.closed.catch(() => {});
  return raw;
}

const sleep30: Body = { kind: "sleep", ms: 30 };
/** Conversations the issue names, each run as an explicit example. */
const namedScenarios: Op[][] = [
  // ids 0 and 2^64−1
  [
    { op: "call", id: 0n, body: { kind: "echo", message: "zero", payload: 0 } },
    { op: "call", id: MAX_ID, body: { kind: "count", count: 3, delayMs: 0, payloadSize: 1 } },
  ],
  // a duplicate in-flight id, unary and stream
  [
    { op: "call", id: 1n, body: sleep30 },
    { op: "call", id: 1n, body: { kind: "echo", message: "dup", payload: 0 } },
  ],
  [
    { op: "call", id: 2n, body: { kind: "count", count: 5, delayMs: 2, payloadSize: 0 } },
    { op: "call", id: 2n, body: { kind: "count", count: 5, delayMs: 0, payloadSize: 0 } },
  ],
  // Cancel before its request, Cancel for an unknown id, End from a client, unknown control codes
  [
    { op: "control", id: 3n, code: 1, body: { kind: "none" } },
    { op: "call", id: 3n, body: sleep30 },
  ],
  [
    { op: "control", id: 99n, code: 1, body: { kind: "none" } },
    { op: "control", id: 98n, code: 2, body: sleep30 },
    { op: "call", id: 98n, body: { kind: "echo", message: "after End", payload: 0 } },
  ],
  [
    { op: "call", id: 4n, body: sleep30 },
    { op: "control", id: 4n, code: 7, body: { kind: "none" } },
    { op: "control", id: 5n, code: 2 ** 32 - 1, body: sleep30 },
  ],
  // missing body, the wrong case, two cases
  [
    { op: "call", id: 6n, body: { kind: "none" } },
    { op: "call", id: 7n, body: { kind: "wrongCase" } },
    { op: "call", id: 8n, body: { kind: "twoCases", count: 2 } },
  ],
  // huge counts cancelled at once, then the id reused
  [
    { op: "hugeCount", id: 9n },
    { op: "hugeCount", id: 9n },
    { op: "call", id: 9n, body: { kind: "echo", message: "reused", payload: 0 } },
  ],
  // a call cancelled while it runs, and its id reused after the Cancel
  [
    { op: "call", id: 10n, body: sleep30 },
    { op: "pause", ms: 5 },
    { op: "control", id: 10n, code: 1, body: { kind: "none" } },
    { op: "call", id: 10n, body: { kind: "echo", message: "again", payload: 0 } },
  ],
];

const responseCodec = createEnvelopeCodec(echoDef.responseEnvelope, echoDef.binding.response);

/** True when the body carries the case of one of the echo service's methods (all unary or server streaming). */
function namesMethod(body: Body): boolean {
  return body.kind !== "none" && body.kind !== "wrongCase";
}

/** Terminal answers per id: a response other than a stream item, an error case, End or Cancel. */
function terminalsById(received: RawPeer["received"]): Map<bigint, number> {
  const out = new Map<bigint, number>();
  for (const env of received) {
    const id = responseCodec.readId(env);
    const code = responseCodec.readCode(env);
    const item = code === 0 && (env.body as { case: string | undefined }).case === "count";
    if (!item) out.set(id, (out.get(id) ?? 0) + 1);
  }
  return out;
}

describe("fuzzing a live server", () => {
  let ctx: Awaited<ReturnType<typeof startProbedServer>>;
  let traps: ReturnType<typeof trapProcessErrors>;
  let healthyTransport: ConnectionTransport;
  const healthy = { ok: 0, failed: [] as unknown[], stop: false, done: Promise.resolve() };

  beforeAll(async () => {
    traps = trapProcessErrors();
    ctx = await startProbedServer();
    healthyTransport = await connect({ port: ctx.port });
    const client = createClient(echoDef, healthyTransport);
    healthy.done = (async () => {
      for (let i = 0; !healthy.stop; i++) {
        try {
          const r = await client.echo({ message: `healthy ${i}` }, { timeoutMs: 5000 });
          if (r.message !== `healthy ${i}`) throw new Error(`wrong answer ${r.message}`);
          healthy.ok++;
        } catch (e) {
          healthy.failed.push(e);
        }
        await sleep(2);
      }
    })();
  });

  afterAll(async () => {
    healthy.stop = true;
    await healthy.done;
    healthyTransport.close();
    await ctx.server.close({ graceMs: 0 });
    traps.dispose();
  });

  /** After a run's connection closed: the server forgets it and its handlers all finish. */
  async function settled(peer: string): Promise<void> {
    await until(
      () => ctx.server.connections === 1,
      () => `the server to drop ${peer} (${ctx.server.connections} connections open)`,
    );
    await until(
      () => ctx.probe.running(peer) === 0,
      () => `the handlers of ${peer} to finish (${ctx.probe.running(peer)} still running)`,
    );
  }

  it("survives arbitrary byte streams, each on its own connection", async () => {
    const okBefore = healthy.ok;
    let closedByServer = 0;
    await fc.assert(
      fc.asyncProperty(chunkedArb, async (chunks) => {
        const raw = await openRaw(ctx.port);
        const peer = `127.0.0.1:${raw.socket.localPort}`;
        // Only this run's reports: a later connection may get the same local port as an earlier one.
        const errorsBefore = ctx.connectionErrors.entries.length;
        const errorsOfThisRun = () =>
          ctx.connectionErrors.entries
            .slice(errorsBefore)
            .filter((e) => e.peer === peer)
            .map((e) => e.error.message);
        let serverClosed = false;
        let weClosed = false;
        const closed = whenClosed(raw.socket).then(() => (serverClosed = !weClosed));
        for (const chunk of chunks) {
          if (raw.socket.destroyed) break;
          raw.write(chunk);
          await new Promise((r) => setImmediate(r));
        }
        await Promise.race([closed, sleep(15)]);
        if (serverClosed) {
          closedByServer++;
          // A connection the server closes carries a reason.
          expect(errorsOfThisRun().join("\n")).toMatch(/protocol violation/);
        }
        weClosed = true;
        raw.socket.end();
        raw.socket.destroy();
        await settled(peer);
        expect(traps.errors.map((e) => (e instanceof Error ? e.stack : String(e)))).toEqual([]);
      }),
      { numRuns: 250 },
    );
    console.log(
      `byte streams: 250 runs, ${closedByServer} connections closed by the server for a protocol violation; healthy client ${healthy.ok - okBefore} calls ok`,
    );
    expect(healthy.failed).toEqual([]);
    expect(healthy.ok).toBeGreaterThan(okBefore);
    expect(traps.errors.map((e) => (e instanceof Error ? e.stack : String(e)))).toEqual([]);
  });

  it("answers every well-formed request exactly once, or closes the connection with a reason", async () => {
    const okBefore = healthy.ok;
    let requests = 0;
    let closed = 0;
    await fc.assert(
      fc.asyncProperty(conversationArb, async ({ ops, explicitDefaults, coalesce }) => {
        const raw = await openRaw(ctx.port);
        const peer = `127.0.0.1:${raw.socket.localPort}`;
        // Only this run's reports: a later connection may get the same local port as an earlier one.
        const errorsBefore = ctx.connectionErrors.entries.length;
        const errorsOfThisRun = () =>
          ctx.connectionErrors.entries
            .slice(errorsBefore)
            .filter((e) => e.peer === peer)
            .map((e) => e.error.message);
        try {
          const expected = new Map<bigint, number>();
          const expect1 = (id: bigint) => expected.set(id, (expected.get(id) ?? 0) + 1);
          // An End naming a unary or server-streaming method is answered invalid_argument, unless a call
          // with its id is running then (the End is ignored): zero or one more answer for that id.
          const maybe = new Map<bigint, number>();
          let batch: Uint8Array[] = [];
          const flush = () => {
            if (batch.length > 0 && !raw.socket.destroyed) raw.write(Buffer.concat(batch));
            batch = [];
          };
          for (const op of ops) {
            switch (op.op) {
              case "call":
                batch.push(envelopeFrame(op.id, 0, op.body, explicitDefaults));
                expect1(op.id);
                break;
              case "control":
                batch.push(envelopeFrame(op.id, op.code, op.body, explicitDefaults));
                if (op.code === 2 && namesMethod(op.body)) maybe.set(op.id, (maybe.get(op.id) ?? 0) + 1);
                break;
              case "hugeCount":
                batch.push(envelopeFrame(op.id, 0, { kind: "count", count: 1_000_000_000, delayMs: 0, payloadSize: 0 }, explicitDefaults));
                batch.push(envelopeFrame(op.id, 1, { kind: "none" }, explicitDefaults));
                expect1(op.id);
                break;
              case "pause":
                flush();
                await sleep(op.ms);
                break;
            }
            if (!coalesce) flush();
          }
          flush();
          requests += [...expected.values()].reduce((a, b) => a + b, 0);
          // A request whose id is in flight is dropped, and the drop reported (an answer would reach the live call):
          // expect one answer per request the server did not report dropping.
          const dropped = (id: bigint) => errorsOfThisRun().filter((m) => m.includes(`message id ${id} is already in flight`)).length;
          const expectedNow = () => new Map([...expected].map(([id, n]) => [id, n - dropped(id)]));
          const answered = () => {
            const got = terminalsById(raw.received);
            return [...expectedNow()].every(([id, n]) => (got.get(id) ?? 0) >= n);
          };
          let ended = false;
          void whenClosed(raw.socket).then(() => (ended = true));
          await until(
            () => ended || answered(),
            () => `answers: expected ${fmt(expectedNow())}, got ${fmt(terminalsById(raw.received))}`,
            5000,
          );
          if (ended) {
            closed++;
            // Closed by the server before answering everything: it said why.
            expect(errorsOfThisRun().join("\n")).toMatch(/protocol violation/);
          } else {
            // Nothing more is coming: exactly one terminal answer per request.
            await sleep(5);
            const got = terminalsById(raw.received);
            for (const [id, n] of expectedNow()) {
              expect(n, `requests for id ${id} not dropped as duplicates`).toBeGreaterThanOrEqual(1);
              const answers = got.get(id) ?? 0;
              expect(answers, `terminal answers for id ${id}`).toBeGreaterThanOrEqual(n);
              expect(answers, `terminal answers for id ${id}`).toBeLessThanOrEqual(n + (maybe.get(id) ?? 0));
            }
            for (const [id, n] of got) {
              if (!expected.has(id)) expect(n, `answers for id ${id}, never requested`).toBeLessThanOrEqual(maybe.get(id) ?? 0);
            }
          }
        } finally {
          // Also when an assertion failed: a connection left open would fail every later run (and shrinking).
          raw.socket.destroy();
        }
        await settled(peer);
        expect(traps.errors.map((e) => (e instanceof Error ? e.stack : String(e)))).toEqual([]);
      }),
      {
        numRuns: 200,
        // The scenarios the issue names, run every time on top of the random ones.
        examples: namedScenarios.map(
          (ops) => [{ ops, explicitDefaults: false, coalesce: true }] as [{ ops: Op[]; explicitDefaults: boolean; coalesce: boolean }],
        ),
      },
    );
    console.log(
      `envelopes: 200 runs, ${requests} Normal requests, ${closed} connections closed by the server; healthy client ${healthy.ok - okBefore} calls ok`,
    );
    expect(healthy.failed).toEqual([]);
    expect(healthy.ok).toBeGreaterThan(okBefore);
    expect(traps.errors.map((e) => (e instanceof Error ? e.stack : String(e)))).toEqual([]);
    // Every handler started on the fuzzed connections finished.
    expect(ctx.probe.running()).toBeLessThanOrEqual(1); // the healthy client's call in flight, at most
  });
});

function fmt(m: Map<bigint, number>): string {
  return JSON.stringify([...m].map(([id, n]) => `${id}×${n}`));
}

/**
 * Request streams (client and bidi streaming) against a live server: the
 * frames of several calls interleaved with unary calls and stray control
 * frames, each call a fresh id. Whatever the timing, every call gets exactly
 * one terminal answer: its response, End, an error, or the echo of its
 * Cancel — also a call the conversation leaves open, which the server's
 * requestStreamIdleTimeoutMs ends — and frames after a call's answer open
 * nothing.
 */
describe("fuzzing a live server with request streams", () => {
  /** One frame's body, as the streaming request envelope carries it. */
  type StreamBody =
    | { kind: "upload"; seq: number; note: string; size: number }
    | { kind: "chat"; seq: number; text: string }
    | { kind: "ping"; text: string }
    | { kind: "none" }
    /** The upload case with bytes that are not a Chunk: undecodable, the server closes the connection. */
    | { kind: "mistyped" };
  type Middle = { m: "msg"; cmd: string } | { m: "wrong"; to: "ping" | "other" | "none" } | { m: "pause"; ms: number } | { m: "mistyped" };
  interface CallSpec {
    method: "upload" | "chat";
    first: "normal" | "end";
    middle: Middle[];
    last: "end" | "endNoCase" | "cancel" | "open";
  }
  type Stray = "endPing" | "cancelUnknown" | "endNone" | "normalNone";

  function streamBodyBytes(body: StreamBody): number[] {
    switch (body.kind) {
      case "upload":
        return pb.bytes(3, [...pb.uint(1, body.seq), ...pb.bytes(2, new Uint8Array(body.size).fill(1)), ...pb.string(3, body.note)]);
      case "chat":
        return pb.bytes(4, [...pb.uint(1, body.seq), ...pb.string(2, body.text)]);
      case "ping":
        return pb.bytes(5, pb.string(2, body.text));
      case "none":
        return [];
      case "mistyped":
        return pb.bytes(3, pb.string(1, "not a chunk"));
    }
  }
  const streamFrame = (id: bigint, code: number, body: StreamBody, explicit: boolean): Uint8Array =>
    pb.frame([
      ...(id !== 0n || explicit ? pb.uint(1, id) : []),
      ...(code !== 0 || explicit ? pb.uint(2, code) : []),
      ...streamBodyBytes(body),
    ]);

  const cmdArb = fc.oneof(
    { weight: 10, arbitrary: fc.constant("") },
    { weight: 1, arbitrary: fc.constant("answer") },
    { weight: 1, arbitrary: fc.constant("end") },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 16 }).map((c) => `fail:${c}`) },
    { weight: 2, arbitrary: fc.nat({ max: 4 }).map((ms) => `sleep:${ms}`) },
  );
  const middleArb: fc.Arbitrary<Middle> = fc.oneof(
    { weight: 36, arbitrary: fc.record({ m: fc.constant("msg" as const), cmd: cmdArb }) },
    {
      weight: 3,
      arbitrary: fc.record({ m: fc.constant("wrong" as const), to: fc.constantFrom("ping" as const, "other" as const, "none" as const) }),
    },
    { weight: 6, arbitrary: fc.record({ m: fc.constant("pause" as const), ms: fc.nat({ max: 3 }) }) },
    // Undecodable: the server closes the connection, so rare enough that most runs check every answer.
    { weight: 1, arbitrary: fc.constant({ m: "mistyped" as const }) },
  );
  const callArb: fc.Arbitrary<CallSpec> = fc.record({
    method: fc.constantFrom("upload" as const, "chat" as const),
    first: fc.oneof({ weight: 5, arbitrary: fc.constant("normal" as const) }, { weight: 1, arbitrary: fc.constant("end" as const) }),
    middle: fc.array(middleArb, { maxLength: 12 }),
    last: fc.constantFrom("end" as const, "endNoCase" as const, "cancel" as const, "open" as const),
  });
  const streamConversationArb = fc.record({
    calls: fc.array(callArb, { minLength: 1, maxLength: 6 }),
    pings: fc.nat({ max: 3 }),
    strays: fc.array(fc.constantFrom<Stray>("endPing", "cancelUnknown", "endNone", "normalNone"), { maxLength: 3 }),
    order: fc.array(fc.nat(), { maxLength: 80 }),
    idBase: fc.constantFrom(1n, 2n ** 53n, MAX_ID - 1000n),
    explicitDefaults: fc.boolean(),
    coalesce: fc.boolean(),
  });

  /** What a conversation writes (frames, and pauses between them) and how many terminal answers each id must get. */
  type Conversation = typeof streamConversationArb extends fc.Arbitrary<infer T> ? T : never;
  function plan(c: Conversation) {
    let next = c.idBase;
    const expected = new Map<bigint, number>();
    const queues: (Uint8Array | number)[][] = [];
    const f = (id: bigint, code: number, body: StreamBody) => streamFrame(id, code, body, c.explicitDefaults);
    for (const call of c.calls) {
      const id = next++;
      expected.set(id, 1);
      const q: (Uint8Array | number)[] = [];
      const message = (seq: number, cmd: string): StreamBody =>
        call.method === "upload" ? { kind: "upload", seq, note: cmd, size: seq % 5 } : { kind: "chat", seq, text: cmd };
      const empty: StreamBody =
        call.method === "upload" ? { kind: "upload", seq: 0, note: "", size: 0 } : { kind: "chat", seq: 0, text: "" };
      if (call.first === "end") {
        q.push(f(id, 2, empty));
      } else {
        q.push(f(id, 0, message(1, "")));
        let seq = 2;
        for (const m of call.middle) {
          if (m.m === "msg") q.push(f(id, 0, message(seq++, m.cmd)));
          else if (m.m === "pause") q.push(m.ms);
          else if (m.m === "mistyped") q.push(f(id, 0, { kind: "mistyped" }));
          else if (m.to === "ping") q.push(f(id, 0, { kind: "ping", text: "wrong" }));
          else if (m.to === "none") q.push(f(id, 0, { kind: "none" }));
          else
            q.push(f(id, 0, call.method === "upload" ? { kind: "chat", seq: 1, text: "" } : { kind: "upload", seq: 1, note: "", size: 0 }));
        }
        if (call.last === "end") q.push(f(id, 2, empty));
        else if (call.last === "endNoCase") q.push(f(id, 2, { kind: "none" }));
        else if (call.last === "cancel") q.push(f(id, 1, empty));
      }
      queues.push(q);
    }
    for (let i = 0; i < c.pings; i++) {
      const id = next++;
      expected.set(id, 1);
      queues.push([f(id, 0, { kind: "ping", text: `ping ${i}` })]);
    }
    for (const s of c.strays) {
      const id = next++;
      if (s === "normalNone") expected.set(id, 1); // unimplemented: no method's case
      if (s === "endPing") expected.set(id, 1); // invalid_argument: End on a unary method's request
      queues.push([
        s === "endPing"
          ? f(id, 2, { kind: "ping", text: "" })
          : s === "cancelUnknown"
            ? f(id, 1, { kind: "none" })
            : f(id, s === "endNone" ? 2 : 0, { kind: "none" }),
      ]);
    }
    // Interleave the queues, each in its own order.
    const steps: (Uint8Array | number)[] = [];
    const order = [...c.order];
    for (;;) {
      const open = queues.filter((q) => q.length > 0);
      if (open.length === 0) break;
      const pick = order.length > 0 ? (order.shift() as number) % open.length : 0;
      steps.push((open[pick] as (Uint8Array | number)[]).shift() as Uint8Array | number);
    }
    return { steps, expected };
  }

  const streamValidFrameArb = fc
    .tuple(
      idArb,
      fc.constantFrom(0, 0, 0, 1, 2, 3),
      fc.oneof(
        fc.record({ kind: fc.constant("upload" as const), seq: fc.nat({ max: 9 }), note: cmdArb, size: fc.nat({ max: 32 }) }),
        fc.record({ kind: fc.constant("chat" as const), seq: fc.nat({ max: 9 }), text: cmdArb }),
        fc.record({ kind: fc.constant("ping" as const), text: fc.string({ maxLength: 8 }) }),
        fc.constant({ kind: "none" as const }),
      ),
    )
    .map(([id, code, body]) => streamFrame(id, code, body, false));
  const streamChunkedArb = chunkedOf(byteStreamsOf(streamValidFrameArb, 12));

  let server: Server;
  let port: number;
  let probe: StreamingProbe;
  const errors: { peer: string; error: RpcError }[] = [];
  const errorsOf = (peer: string) => errors.filter((e) => e.peer === peer).map((e) => e.error.message);
  let traps: ReturnType<typeof trapProcessErrors>;
  let healthyTransport: ConnectionTransport;
  const healthy = { ok: 0, failed: [] as unknown[], stop: false, done: Promise.resolve() };

  beforeAll(async () => {
    traps = trapProcessErrors();
    probe = createStreamingProbe();
    server = createServer({ requestStreamIdleTimeoutMs: 30, onConnectionError: (error, peer) => errors.push({ peer, error }) });
    server.register(streamingDef, streamingImpl(probe));
    ({ port } = await server.listen({ host: "127.0.0.1", port: 0 }));
    healthyTransport = await connect({ port });
    const client = createClient(streamingDef, healthyTransport);
    healthy.done = (async () => {
      for (let i = 0; !healthy.stop; i++) {
        try {
          const up = await client.upload(chunks(20, 4), { timeoutMs: 5000 });
          if (up.chunks !== 20 || up.bytes !== 80n)
            throw new Error(`wrong upload summary ${JSON.stringify(up, (_, v: unknown) => (typeof v === "bigint" ? String(v) : v))}`);
          let n = 0;
          const said = (async function* () {
            for (let seq = 1; seq <= 20; seq++) yield { seq, text: `healthy ${i}` };
          })();
          for await (const m of client.chat(said, { timeoutMs: 5000 })) {
            if (m.seq !== ++n || m.text !== `healthy ${i}`) throw new Error(`wrong chat answer ${m.seq} ${m.text}`);
          }
          if (n !== 20) throw new Error(`chat answered ${n} of 20`);
          healthy.ok++;
        } catch (e) {
          healthy.failed.push(e);
        }
        await sleep(2);
      }
    })();
  });

  afterAll(async () => {
    healthy.stop = true;
    await healthy.done;
    healthyTransport.close();
    await server.close({ graceMs: 0 });
    traps.dispose();
  });

  async function settled(peer: string): Promise<void> {
    await until(
      () => server.connections === 1,
      () => `the server to drop ${peer} (${server.connections} connections open)`,
    );
    await until(
      () => probe.runningOf(peer) === 0,
      () => `the handlers of ${peer} to finish (${probe.runningOf(peer)} still running)`,
    );
  }

  it("survives arbitrary byte streams of request-stream frames, each on its own connection", async () => {
    const okBefore = healthy.ok;
    let closedByServer = 0;
    await fc.assert(
      fc.asyncProperty(streamChunkedArb, async (chunks) => {
        const raw = await openRawStreaming(port);
        const peer = `127.0.0.1:${raw.socket.localPort}`;
        let serverClosed = false;
        let weClosed = false;
        const closed = whenClosed(raw.socket).then(() => (serverClosed = !weClosed));
        for (const chunk of chunks) {
          if (raw.socket.destroyed) break;
          raw.write(chunk);
          await new Promise((r) => setImmediate(r));
        }
        await Promise.race([closed, sleep(15)]);
        if (serverClosed) {
          closedByServer++;
          expect(errorsOf(peer).join("\n")).toMatch(/protocol violation/);
        }
        weClosed = true;
        raw.socket.end();
        raw.socket.destroy();
        await settled(peer);
        expect(traps.errors.map((e) => (e instanceof Error ? e.stack : String(e)))).toEqual([]);
      }),
      { numRuns: 150 },
    );
    console.log(
      `request-stream byte streams: 150 runs, ${closedByServer} connections closed by the server for a protocol violation; healthy client ${healthy.ok - okBefore} rounds ok`,
    );
    expect(healthy.failed).toEqual([]);
    expect(healthy.ok).toBeGreaterThan(okBefore);
  });

  it("answers every request-stream call exactly once, whatever the interleaving, or closes the connection with a reason", async () => {
    const okBefore = healthy.ok;
    let callsChecked = 0;
    let closed = 0;
    await fc.assert(
      fc.asyncProperty(streamConversationArb, async (conversation) => {
        const { steps, expected } = plan(conversation);
        const raw = await openRawStreaming(port);
        const peer = `127.0.0.1:${raw.socket.localPort}`;
        let batch: Uint8Array[] = [];
        const flush = () => {
          if (batch.length > 0 && !raw.socket.destroyed) raw.write(Buffer.concat(batch));
          batch = [];
        };
        for (const step of steps) {
          if (typeof step === "number") {
            flush();
            await sleep(step);
            continue;
          }
          batch.push(step);
          if (!conversation.coalesce) flush();
        }
        flush();
        let ended = false;
        void whenClosed(raw.socket).then(() => (ended = true));
        const answered = () => {
          const got = streamTerminals(raw.received);
          return [...expected].every(([id, n]) => (got.get(id) ?? 0) >= n);
        };
        await until(
          () => ended || answered(),
          () => `answers: expected ${fmt(expected)}, got ${fmt(streamTerminals(raw.received))}`,
          5000,
        );
        if (ended) {
          closed++;
          expect(errorsOf(peer).join("\n")).toMatch(/protocol violation/);
        } else {
          // Longer than the idle limit: nothing more may come.
          await sleep(40);
          const got = streamTerminals(raw.received);
          for (const [id, n] of expected) expect(got.get(id), `terminal answers for id ${id}`).toBe(n);
          for (const id of got.keys()) expect(expected.has(id), `an answer for id ${id}, which expects none`).toBe(true);
          expect(raw.received.every((env) => [0, 1, 2].includes(env.controlCode as number))).toBe(true);
          callsChecked += expected.size;
        }
        raw.socket.destroy();
        await settled(peer);
        expect(traps.errors.map((e) => (e instanceof Error ? e.stack : String(e)))).toEqual([]);
      }),
      { numRuns: 200 },
    );
    console.log(
      `request-stream conversations: 200 runs, ${callsChecked} calls answered exactly once, ${closed} connections closed by the server; healthy client ${healthy.ok - okBefore} rounds ok`,
    );
    expect(healthy.failed).toEqual([]);
    expect(healthy.ok).toBeGreaterThan(okBefore);
    expect(probe.running).toBeLessThanOrEqual(1);
  });
});

const streamingResponses = createEnvelopeCodec(streamingDef.responseEnvelope, streamingDef.binding.response);

/** Terminal answers per id of the streaming service: anything but a Chat item. */
function streamTerminals(received: RawPeer["received"]): Map<bigint, number> {
  const out = new Map<bigint, number>();
  for (const env of received) {
    const id = streamingResponses.readId(env);
    const item = streamingResponses.readCode(env) === 0 && (env.body as { case: string | undefined }).case === "chat";
    if (!item) out.set(id, (out.get(id) ?? 0) + 1);
  }
  return out;
}

async function openRawStreaming(port: number): Promise<RawPeer> {
  const raw = await rawClient(port, streamingDef);
  raw.closed.catch(() => {});
  return raw;
}
