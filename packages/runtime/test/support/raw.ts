import { createServer, connect as netConnect, type Server as NetServer, type Socket } from "node:net";
import { once } from "node:events";
import { create } from "@bufbuild/protobuf";
import { createFrameDecoder, encodeFrame, type EnvelopeMessage } from "../../src/protocol.js";
import { createEnvelopeCodec } from "../../src/protobuf/envelope-codec.js";
import type { ServiceDefinition } from "../../src/index.js";

/** A raw TCP peer that speaks frames by hand, for tests of what the runtime does with bad or odd input. */
export interface RawPeer {
  readonly socket: Socket;
  /** Frames received so far, decoded as `decodeAs` envelopes. */
  readonly received: EnvelopeMessage[];
  /** Writes bytes as they are. */
  write(bytes: Uint8Array): void;
  /** Resolves once `n` frames have been received. */
  waitFor(n: number): Promise<void>;
  /** Resolves when the socket closes. */
  readonly closed: Promise<void>;
}

function wrap(socket: Socket, decodeAs: "request" | "response", def: ServiceDefinition): RawPeer {
  const codec =
    decodeAs === "response"
      ? createEnvelopeCodec(def.responseEnvelope, def.binding.response)
      : createEnvelopeCodec(def.requestEnvelope, def.binding.request);
  const decoder = createFrameDecoder();
  const received: EnvelopeMessage[] = [];
  let waiters: { n: number; resolve: () => void }[] = [];
  socket.on("data", (chunk) => {
    decoder.push(chunk, (body) => received.push(codec.decode(body)));
    waiters = waiters.filter((w) => {
      if (received.length < w.n) return true;
      w.resolve();
      return false;
    });
  });
  socket.on("error", () => {});
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  return {
    socket,
    received,
    write: (bytes) => socket.write(bytes),
    waitFor: (n) => (received.length >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }))),
    closed,
  };
}

/** Connects a raw client to a protosocket server. */
export async function rawClient(port: number, def: ServiceDefinition): Promise<RawPeer> {
  const socket = netConnect({ host: "127.0.0.1", port });
  await once(socket, "connect");
  return wrap(socket, "response", def);
}

/** Starts a raw TCP server; `onPeer` gets each connection. */
export async function rawServer(
  def: ServiceDefinition,
  onPeer: (peer: RawPeer) => void,
): Promise<{ port: number; server: NetServer; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    onPeer(wrap(socket, "request", def));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no address");
  return {
    port: address.port,
    server,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/**
 * Frames an envelope of `def`'s request or response type, given as the
 * fields it sets (a `$typeName` is ignored): fields it leaves out (the
 * metadata map of an envelope that binds one …) get their defaults.
 */
export function frameOf(def: ServiceDefinition, side: "request" | "response", envelope: EnvelopeMessage): Uint8Array {
  const schema = side === "response" ? def.responseEnvelope : def.requestEnvelope;
  const codec = createEnvelopeCodec(schema, side === "response" ? def.binding.response : def.binding.request);
  const { $typeName: _, ...fields } = envelope;
  return encodeFrame(codec.encode(create(schema, fields as never) as EnvelopeMessage), Number.MAX_SAFE_INTEGER);
}
