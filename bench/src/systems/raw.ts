// The raw-TCP ceiling: the envelopes of each message set (echo.v1.EchoRequestEnvelope /
// EchoResponseEnvelope for the small messages, bench.v1.BenchRequestEnvelope /
// BenchResponseEnvelope for the realistic and grpc ones) framed as varint length + toBinary
// bytes and decoded with fromBinary, an id → pending-call map, writes batched per
// event-loop turn, and no other RPC layer (no cancellation, deadlines, limits or error
// mapping). It speaks the protosocket wire format (unary: one response frame; stream: N
// frames, then End), so it is the bar that protosocket-ts's RPC layer must beat.

import net from "node:net";
import { once } from "node:events";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { EchoRequestEnvelopeSchema, EchoResponseEnvelopeSchema, type EchoResponseEnvelope } from "@protosocket/gen/echo/v1/echo_pb.js";
import { BenchRequestEnvelopeSchema, BenchResponseEnvelopeSchema, type BenchResponseEnvelope } from "@protosocket/gen/bench/v1/bench_pb.js";
import { GRPC_PAYLOAD_BYTES, ORDER, ORDER_PLACED, type MessageSet } from "../messages.js";
import { ECHO_MESSAGE, type BenchClient, type BenchServer, type ConnectOptions, type System } from "../system.js";
import { FrameReader, FrameWriter } from "./framing.js";
import { placeOrder, streamedOrder, streamingResponse, unaryCall } from "./handlers.js";

const CONTROL_NORMAL = 0;
const CONTROL_END = 2;
/** Stream messages encoded per batch before the server checks backpressure and yields. */
const STREAM_BATCH = 512;

function serveEcho(socket: net.Socket, writer: FrameWriter, frame: Uint8Array): void {
  const request = fromBinary(EchoRequestEnvelopeSchema, frame);
  const body = request.body;
  switch (body.case) {
    case "echo":
      writer.write(
        toBinary(
          EchoResponseEnvelopeSchema,
          create(EchoResponseEnvelopeSchema, {
            messageId: request.messageId,
            body: { case: "echo", value: { message: body.value.message, payload: body.value.payload } },
          }),
        ),
      );
      break;
    case "count": {
      const id = request.messageId;
      void streamFrames(
        socket,
        writer,
        body.value.count,
        (n) =>
          toBinary(
            EchoResponseEnvelopeSchema,
            create(EchoResponseEnvelopeSchema, { messageId: id, body: { case: "count", value: { n } } }),
          ),
        () => toBinary(EchoResponseEnvelopeSchema, create(EchoResponseEnvelopeSchema, { messageId: id, controlCode: CONTROL_END })),
      );
      break;
    }
    default:
      socket.destroy(new Error(`raw server: unsupported request case ${String(body.case)}`));
  }
}

function serveBench(socket: net.Socket, writer: FrameWriter, frame: Uint8Array): void {
  const request = fromBinary(BenchRequestEnvelopeSchema, frame);
  const body = request.body;
  const id = request.messageId;
  const end = () => toBinary(BenchResponseEnvelopeSchema, create(BenchResponseEnvelopeSchema, { messageId: id, controlCode: CONTROL_END }));
  switch (body.case) {
    case "placeOrder":
      writer.write(
        toBinary(
          BenchResponseEnvelopeSchema,
          create(BenchResponseEnvelopeSchema, { messageId: id, body: { case: "placeOrder", value: placeOrder(body.value) } }),
        ),
      );
      break;
    case "unaryCall":
      writer.write(
        toBinary(
          BenchResponseEnvelopeSchema,
          create(BenchResponseEnvelopeSchema, { messageId: id, body: { case: "unaryCall", value: unaryCall(body.value) } }),
        ),
      );
      break;
    case "listOrders":
      void streamFrames(
        socket,
        writer,
        body.value.count,
        (n) =>
          toBinary(
            BenchResponseEnvelopeSchema,
            create(BenchResponseEnvelopeSchema, { messageId: id, body: { case: "listOrders", value: streamedOrder(n) } }),
          ),
        end,
      );
      break;
    case "streamingFromServer": {
      const payload = new Uint8Array(body.value.request?.responseSize ?? 0);
      void streamFrames(
        socket,
        writer,
        body.value.count,
        () =>
          toBinary(
            BenchResponseEnvelopeSchema,
            create(BenchResponseEnvelopeSchema, {
              messageId: id,
              body: { case: "streamingFromServer", value: streamingResponse(payload) },
            }),
          ),
        end,
      );
      break;
    }
    default:
      socket.destroy(new Error(`raw server: unsupported request case ${String(body.case)}`));
  }
}

function serveConnection(set: MessageSet, socket: net.Socket): void {
  socket.setNoDelay(true);
  const writer = new FrameWriter(socket);
  const handle = set === "small" ? serveEcho : serveBench;
  const reader = new FrameReader((frame) => handle(socket, writer, frame));
  socket.on("data", (chunk: Buffer) => {
    try {
      reader.push(chunk);
    } catch (error) {
      socket.destroy(error as Error);
    }
  });
  socket.on("error", () => socket.destroy());
}

/** Writes `count` frames in batches (socket backpressure honoured), then the End frame. */
async function streamFrames(
  socket: net.Socket,
  writer: FrameWriter,
  count: number,
  frame: (n: number) => Uint8Array,
  end: () => Uint8Array,
): Promise<void> {
  let n = 1;
  while (n <= count && !socket.destroyed) {
    const last = Math.min(count, n + STREAM_BATCH - 1);
    for (; n <= last; n++) writer.write(frame(n));
    if (!writer.flush()) {
      await once(socket, "drain");
    } else {
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  writer.write(end());
}

interface Pending {
  /** For a unary call: what the call reports (see BenchClient.unary). For a stream: the message count, at End. */
  resolve(value: number): void;
  reject(error: Error): void;
  /** Messages received so far (streams only). */
  received: number;
}

class RawClient implements BenchClient {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private readonly writer: FrameWriter;

  constructor(
    private readonly socket: net.Socket,
    set: MessageSet,
  ) {
    this.writer = new FrameWriter(socket);
    const reader = new FrameReader(
      set === "small"
        ? (frame) => this.onEcho(fromBinary(EchoResponseEnvelopeSchema, frame))
        : (frame) => this.onBench(fromBinary(BenchResponseEnvelopeSchema, frame)),
    );
    socket.on("data", (chunk: Buffer) => {
      try {
        reader.push(chunk);
      } catch (error) {
        socket.destroy(error as Error);
      }
    });
    const fail = (error?: Error) => {
      const reason = error ?? new Error("raw client: connection closed");
      for (const call of this.pending.values()) call.reject(reason);
      this.pending.clear();
    };
    socket.on("error", fail);
    socket.on("close", () => fail());
  }

  /** Settles the call of a frame that is not a stream item: its unary answer, its End, or a failure. */
  private settle(id: number, call: Pending, code: number, caseName: string | undefined, value: () => number): void {
    if (caseName !== undefined && code === CONTROL_NORMAL) {
      this.pending.delete(id);
      try {
        call.resolve(value());
      } catch (error) {
        call.reject(error as Error);
      }
    } else if (code === CONTROL_END) {
      this.pending.delete(id);
      call.resolve(call.received);
    } else if (code !== CONTROL_NORMAL || caseName !== undefined) {
      this.pending.delete(id);
      call.reject(new Error(`raw client: call ${id} failed (control code ${code}, case ${String(caseName)})`));
    }
  }

  private onEcho(response: EchoResponseEnvelope): void {
    const id = Number(response.messageId);
    const call = this.pending.get(id);
    if (call === undefined) return;
    const body = response.body;
    if (body.case === "count") {
      call.received++;
      return;
    }
    this.settle(id, call, response.controlCode, body.case, () => (body.case === "echo" ? body.value.payload.length : -1));
  }

  private onBench(response: BenchResponseEnvelope): void {
    const id = Number(response.messageId);
    const call = this.pending.get(id);
    if (call === undefined) return;
    const body = response.body;
    if (body.case === "listOrders" || body.case === "streamingFromServer") {
      call.received++;
      return;
    }
    this.settle(id, call, response.controlCode, body.case, () => {
      if (body.case === "placeOrder") {
        if (body.value.id !== ORDER.id || body.value.status !== ORDER_PLACED) throw new Error("PlaceOrder answered another order");
        return body.value.tags.length;
      }
      if (body.case === "unaryCall") return body.value.payload?.body.length ?? -1;
      return -1;
    });
  }

  private call(frame: (id: bigint) => Uint8Array): Promise<number> {
    const id = this.nextId++;
    return new Promise<number>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, received: 0 });
      this.writer.write(frame(BigInt(id)));
    });
  }

  unary(set: MessageSet, payload: Uint8Array): Promise<number> {
    if (set === "small") {
      return this.call((messageId) =>
        toBinary(
          EchoRequestEnvelopeSchema,
          create(EchoRequestEnvelopeSchema, { messageId, body: { case: "echo", value: { message: ECHO_MESSAGE, payload } } }),
        ),
      );
    }
    if (set === "realistic") {
      return this.call((messageId) =>
        toBinary(BenchRequestEnvelopeSchema, create(BenchRequestEnvelopeSchema, { messageId, body: { case: "placeOrder", value: ORDER } })),
      );
    }
    return this.call((messageId) =>
      toBinary(
        BenchRequestEnvelopeSchema,
        create(BenchRequestEnvelopeSchema, {
          messageId,
          body: { case: "unaryCall", value: { responseType: 0, responseSize: payload.length, payload: { type: 0, body: payload } } },
        }),
      ),
    );
  }

  stream(set: MessageSet, count: number): Promise<number> {
    if (set === "small") {
      return this.call((messageId) =>
        toBinary(EchoRequestEnvelopeSchema, create(EchoRequestEnvelopeSchema, { messageId, body: { case: "count", value: { count } } })),
      );
    }
    if (set === "realistic") {
      return this.call((messageId) =>
        toBinary(
          BenchRequestEnvelopeSchema,
          create(BenchRequestEnvelopeSchema, { messageId, body: { case: "listOrders", value: { count } } }),
        ),
      );
    }
    return this.call((messageId) =>
      toBinary(
        BenchRequestEnvelopeSchema,
        create(BenchRequestEnvelopeSchema, {
          messageId,
          body: { case: "streamingFromServer", value: { request: { responseSize: GRPC_PAYLOAD_BYTES }, count } },
        }),
      ),
    );
  }

  async close(): Promise<void> {
    if (this.socket.destroyed) return;
    this.socket.end();
    await once(this.socket, "close");
  }
}

export async function listen(server: net.Server, port: number): Promise<number> {
  server.listen(port, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("server has no TCP address");
  return address.port;
}

export async function connectSocket(options: ConnectOptions): Promise<net.Socket> {
  const socket = net.connect({ host: options.host, port: options.port, noDelay: true });
  await once(socket, "connect");
  return socket;
}

export const raw: System = {
  name: "raw",
  description: "raw-TCP ceiling: varint frames of the envelopes, toBinary/fromBinary, id map, no RPC layer",
  server: "raw",
  async serve(port: number, set: MessageSet): Promise<BenchServer> {
    const server = net.createServer((socket) => serveConnection(set, socket));
    const bound = await listen(server, port);
    return {
      port: bound,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  },
  async connect(options: ConnectOptions): Promise<BenchClient> {
    return new RawClient(await connectSocket(options), options.set);
  },
};
