/**
 * The server's side of the request-stream state machine (docs/decisions.md),
 * driven frame by frame from a raw TCP client: End as a first frame, frames
 * after the server finished, frames with another method's case, refused
 * streams, ids reused after End, and unary duplicates beside streams.
 */
import { create } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { Code, type Server } from "../src/index.js";
import { ControlCode, createEnvelopeCodec, type EnvelopeMessage } from "../src/protocol.js";
import { ChatMessageSchema, ChunkSchema } from "@protosocket/gen/streaming/v1/streaming_pb.js";
import { frameOf, rawClient, type RawPeer } from "./support/raw.js";
import { sleep, until } from "./support/reliability.js";
import { startStreamingServer, streamingDef, type StreamingProbe } from "./support/streaming.js";

const requests = createEnvelopeCodec(streamingDef.requestEnvelope, streamingDef.binding.request);

type Case =
  | { case: "upload"; value: { seq?: number; note?: string } }
  | { case: "chat"; value: { seq?: number; text?: string } }
  | { case: "ping"; value: { text?: string } };

/** One request frame: `id`, `code`, and a body case (with an empty message unless given). */
function frame(id: number, code: number, body?: Case): Uint8Array {
  const env = requests.create(BigInt(id), code as ControlCode);
  if (body !== undefined) {
    env.body = {
      case: body.case,
      value: body.case === "upload" ? create(ChunkSchema, body.value) : create(ChatMessageSchema, body.value),
    };
  }
  return frameOf(streamingDef, "request", env);
}
const upload = (id: number, seq: number, note = ""): Uint8Array => frame(id, ControlCode.Normal, { case: "upload", value: { seq, note } });
const chat = (id: number, seq: number, text = `m${seq}`): Uint8Array =>
  frame(id, ControlCode.Normal, { case: "chat", value: { seq, text } });
const end = (id: number, body: Case["case"] | null = "upload"): Uint8Array =>
  frame(id, ControlCode.End, body === null ? undefined : ({ case: body, value: {} } as Case));
const cancel = (id: number): Uint8Array => frame(id, ControlCode.Cancel, { case: "upload", value: {} });

interface Answer {
  id: number;
  code: number;
  case: string | undefined;
  value: Record<string, unknown> | undefined;
}

function answers(peer: RawPeer): Answer[] {
  return peer.received.map((env: EnvelopeMessage) => {
    const body = env.body as { case: string | undefined; value?: Record<string, unknown> };
    return { id: Number(env.messageId), code: env.controlCode as number, case: body.case, value: body.value };
  });
}

describe("request streams on the wire", () => {
  let server: Server | undefined;
  let probe: StreamingProbe;
  let peer: RawPeer | undefined;
  let connectionErrors: string[];
  afterEach(async () => {
    peer?.socket.destroy();
    await server?.close({ graceMs: 0 });
    server = undefined;
    peer = undefined;
  });

  async function start(options: Parameters<typeof startStreamingServer>[0] = {}): Promise<RawPeer> {
    connectionErrors = [];
    const s = await startStreamingServer({ ...options, onConnectionError: (e) => connectionErrors.push(e.message) });
    server = s.server;
    probe = s.probe;
    peer = await rawClient(s.port, streamingDef);
    peer.closed.catch(() => {});
    return peer;
  }

  it("opens a call with no messages on an End that names the method, refuses one naming a unary method, and ignores one naming none", async () => {
    const p = await start();
    p.write(end(1, "upload"));
    p.write(end(2, "chat"));
    p.write(end(3, null));
    p.write(end(4, "ping"));
    await p.waitFor(3);
    await sleep(50);
    const got = answers(p);
    expect(got).toHaveLength(3);
    expect(got.find((a) => a.id === 1)).toMatchObject({ code: ControlCode.Normal, case: "upload", value: { chunks: 0, note: "done" } });
    expect(got.find((a) => a.id === 2)).toMatchObject({ code: ControlCode.End });
    expect(got.find((a) => a.id === 4)).toMatchObject({ code: ControlCode.Normal, case: "error", value: { code: Code.InvalidArgument } });
    expect(probe.started).toBe(2);
  });

  it("runs a stream frame by frame: messages, then End, then one answer; the server only sends codes 0, 1 and 2", async () => {
    const p = await start();
    p.write(chat(7, 1));
    p.write(chat(7, 2));
    await p.waitFor(2);
    p.write(chat(7, 3));
    p.write(end(7, "chat"));
    await p.waitFor(4);
    expect(answers(p).map((a) => [a.id, a.code, a.value?.seq])).toEqual([
      [7, 0, 1],
      [7, 0, 2],
      [7, 0, 3],
      [7, 2, undefined],
    ]);
    expect(answers(p).every((a) => a.code === 0 || a.code === 1 || a.code === 2)).toBe(true);
  });

  it("drops the frames of a stream it answered early until End, then lets the client reuse the id", async () => {
    const p = await start();
    p.write(upload(5, 1));
    p.write(upload(5, 2, "answer"));
    await p.waitFor(1);
    expect(answers(p)[0]).toMatchObject({ id: 5, code: 0, case: "upload", value: { chunks: 2, note: "answered early" } });
    // Still on their way when the answer left: dropped, not a new call, not an error.
    for (let seq = 3; seq < 50; seq++) p.write(upload(5, seq));
    p.write(end(5));
    await sleep(50);
    expect(answers(p)).toHaveLength(1);
    expect(probe.started).toBe(1);
    // After End the id is free again.
    p.write(upload(5, 1));
    p.write(end(5));
    await p.waitFor(2);
    expect(answers(p)[1]).toMatchObject({ id: 5, case: "upload", value: { chunks: 1, note: "done" } });
    expect(connectionErrors).toEqual([]);
  });

  it("forgets a finished stream's id on the client's Cancel too", async () => {
    const p = await start();
    p.write(upload(9, 1, "answer"));
    await p.waitFor(1);
    p.write(upload(9, 2));
    p.write(cancel(9));
    p.write(upload(9, 1));
    p.write(end(9));
    await p.waitFor(2);
    await sleep(30);
    expect(answers(p).map((a) => [a.id, a.case, a.value?.note])).toEqual([
      [9, "upload", "answered early"],
      [9, "upload", "done"],
    ]);
  });

  it("fails an open stream with invalid_argument when a frame carries another method's case, and keeps the connection", async () => {
    const p = await start();
    p.write(upload(3, 1));
    p.write(frame(3, ControlCode.Normal, { case: "ping", value: { text: "wrong" } }));
    p.write(upload(3, 2));
    p.write(end(3));
    await p.waitFor(1);
    await sleep(30);
    const got = answers(p);
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ id: 3, code: 0, case: "error", value: { code: Code.InvalidArgument } });
    expect(String(got[0]?.value?.message)).toMatch(/carries the case "ping" of another method/);
    expect(connectionErrors.join("\n")).toMatch(/carries the case "ping" of another method/);
    await until(() => probe.running === 0, "the handler to stop");
    expect(probe.inputErrors).toEqual([Code.InvalidArgument]);
    // The connection still serves.
    p.write(frame(4, ControlCode.Normal, { case: "ping", value: { text: "still here" } }));
    await p.waitFor(2);
    expect(answers(p)[1]).toMatchObject({ id: 4, case: "ping", value: { text: "still here" } });
  });

  it("treats a request on the id of a call still running after its End as a duplicate: dropped and reported, as for unary calls", async () => {
    const p = await start();
    p.write(upload(1, 1, "stall"));
    p.write(chat(2, 1, "sleep:100"));
    p.write(frame(2, ControlCode.End, { case: "chat", value: {} }));
    p.write(chat(2, 2));
    await until(() => connectionErrors.length > 0, "the duplicate to be reported");
    expect(connectionErrors[0]).toMatch(/message id 2 is already in flight on this connection; the duplicate request was dropped/);
    await p.waitFor(2);
    expect(answers(p).map((a) => [a.id, a.code])).toEqual([
      [2, 0],
      [2, 2],
    ]);
  });

  it("answers a refused stream once and drops the rest of it (concurrency limit, shutdown)", async () => {
    const p = await start({ maxConcurrentCallsPerConnection: 1 });
    p.write(upload(1, 1, "stall"));
    await until(() => probe.started === 1, "the first call to start");
    for (let seq = 1; seq <= 20; seq++) p.write(upload(2, seq));
    await p.waitFor(1);
    await sleep(50);
    expect(answers(p)).toHaveLength(1);
    expect(answers(p)[0]).toMatchObject({ id: 2, case: "error", value: { code: Code.ResourceExhausted } });
    expect(probe.started).toBe(1);
    p.write(end(2));
    p.write(cancel(1));
    await p.waitFor(2);
    expect(answers(p)[1]).toMatchObject({ id: 1, code: ControlCode.Cancel });
    await until(() => probe.running === 0, "the stalled handler to stop");
  });

  it("fails a stream the client leaves open when it half-closes its socket, and answers its other calls", async () => {
    const p = await start();
    p.write(upload(1, 1));
    p.write(frame(2, ControlCode.Normal, { case: "ping", value: { text: "before FIN" } }));
    p.socket.end();
    await p.waitFor(2);
    const got = answers(p);
    expect(got.find((a) => a.id === 2)).toMatchObject({ case: "ping", value: { text: "before FIN" } });
    expect(got.find((a) => a.id === 1)).toMatchObject({ case: "error", value: { code: Code.Unavailable } });
    await p.closed.catch(() => {});
    expect(probe.inputErrors).toEqual([Code.Unavailable]);
  });
});
