// The raw-TCP ceiling: the echo envelopes (echo.v1.EchoRequestEnvelope /
// EchoResponseEnvelope) framed as varint length + toBinary bytes and decoded with
// fromBinary, an id → pending-call map, writes batched per event-loop turn, and no other
// RPC layer (no cancellation, deadlines, limits or error mapping). It speaks the
// protosocket wire format (unary: one response frame; stream: N frames, then End), so
// it is the bar that protosocket-ts's RPC layer must beat.

import net from "node:net";
import { once } from "node:events";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { EchoRequestEnvelopeSchema, EchoResponseEnvelopeSchema, type EchoResponseEnvelope } from "@protosocket/gen/echo/v1/echo_pb.js";
import { ECHO_MESSAGE, type BenchClient, type BenchServer, type ConnectOptions, type System } from "../system.js";
import { FrameReader, FrameWriter } from "./framing.js";

const CONTROL_NORMAL = 0;
const CONTROL_END = 2;
/** Stream messages encoded per batch before the server checks backpressure and yields. */
const STREAM_BATCH = 512;

function serveConnection(socket: net.Socket): void {
  socket.setNoDelay(true);
  const writer = new FrameWriter(socket);
  const reader = new FrameReader((frame) => {
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
      case "count":
        void streamCount(socket, writer, request.messageId, body.value.count);
        break;
      default:
        socket.destroy(new Error(`raw server: unsupported request case ${String(body.case)}`));
    }
  });
  socket.on("data", (chunk: Buffer) => {
    try {
      reader.push(chunk);
    } catch (error) {
      socket.destroy(error as Error);
    }
  });
  socket.on("error", () => socket.destroy());
}

async function streamCount(socket: net.Socket, writer: FrameWriter, messageId: bigint, count: number): Promise<void> {
  let n = 1;
  while (n <= count && !socket.destroyed) {
    const last = Math.min(count, n + STREAM_BATCH - 1);
    for (; n <= last; n++) {
      writer.write(
        toBinary(EchoResponseEnvelopeSchema, create(EchoResponseEnvelopeSchema, { messageId, body: { case: "count", value: { n } } })),
      );
    }
    if (!writer.flush()) {
      await once(socket, "drain");
    } else {
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  writer.write(toBinary(EchoResponseEnvelopeSchema, create(EchoResponseEnvelopeSchema, { messageId, controlCode: CONTROL_END })));
}

interface Pending {
  /** For a unary call: the echoed payload length. For a stream: the message count, at End. */
  resolve(value: number): void;
  reject(error: Error): void;
  /** Messages received so far (streams only). */
  received: number;
}

class RawClient implements BenchClient {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private readonly writer: FrameWriter;

  constructor(private readonly socket: net.Socket) {
    this.writer = new FrameWriter(socket);
    const reader = new FrameReader((frame) => this.onFrame(fromBinary(EchoResponseEnvelopeSchema, frame)));
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

  private onFrame(response: EchoResponseEnvelope): void {
    const id = Number(response.messageId);
    const call = this.pending.get(id);
    if (call === undefined) return;
    const body = response.body;
    if (body.case === "echo") {
      this.pending.delete(id);
      call.resolve(body.value.payload.length);
    } else if (body.case === "count") {
      call.received++;
    } else if (response.controlCode === CONTROL_END) {
      this.pending.delete(id);
      call.resolve(call.received);
    } else if (response.controlCode !== CONTROL_NORMAL || body.case !== undefined) {
      this.pending.delete(id);
      call.reject(new Error(`raw client: call ${id} failed (control code ${response.controlCode}, case ${String(body.case)})`));
    }
  }

  unary(payload: Uint8Array): Promise<number> {
    const id = this.nextId++;
    return new Promise<number>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, received: 0 });
      this.writer.write(
        toBinary(
          EchoRequestEnvelopeSchema,
          create(EchoRequestEnvelopeSchema, {
            messageId: BigInt(id),
            body: { case: "echo", value: { message: ECHO_MESSAGE, payload } },
          }),
        ),
      );
    });
  }

  stream(count: number): Promise<number> {
    const id = this.nextId++;
    return new Promise<number>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, received: 0 });
      this.writer.write(
        toBinary(
          EchoRequestEnvelopeSchema,
          create(EchoRequestEnvelopeSchema, { messageId: BigInt(id), body: { case: "count", value: { count } } }),
        ),
      );
    });
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
  description: "raw-TCP ceiling: varint frames of the echo envelopes, toBinary/fromBinary, id map, no RPC layer",
  server: "raw",
  async serve(port: number): Promise<BenchServer> {
    const server = net.createServer(serveConnection);
    const bound = await listen(server, port);
    return {
      port: bound,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  },
  async connect(options: ConnectOptions): Promise<BenchClient> {
    return new RawClient(await connectSocket(options));
  },
};
