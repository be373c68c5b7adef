// connect-es code over protosocket-ts (@protosocket/connect):
//   `connect-transport`  connect-es clients (`createClient` of @connectrpc/connect) over
//                        `createProtosocketTransport` on one connection, against the
//                        `protosocket` system's server (generated definitions, protosocket
//                        handlers): what the client adapter costs;
//   `connect-served`     the same clients against connect-es `ServiceImpl`s served with
//                        `registerConnect`: connect-es code on both sides, protosocket between.
// Against `protosocket` (the same connection and envelopes with generated clients and
// handlers) the rows show what connect-es's API costs over protosocket; against `connect`
// and `connect-grpc`, what leaving HTTP/2 gains.

import { type Code, ConnectError, createClient, type Client, type ServiceImpl } from "@connectrpc/connect";
import { BenchService } from "@protosocket/gen/bench/v1/bench_pb.js";
import { EchoService } from "@protosocket/gen/echo/v1/echo_pb.js";
import { StreamingService } from "@protosocket/gen/streaming/v1/streaming_pb.js";
import { connect, createServer } from "@protosocket/runtime";
import { createProtosocketTransport, registerConnect, type ProtosocketTransport } from "@protosocket/connect";
import { GRPC_PAYLOAD_BYTES, ORDER, ORDER_PLACED, type MessageSet } from "../messages.js";
import {
  ECHO_MESSAGE,
  REQUEST_STREAM_WORKLOADS,
  type BenchChat,
  type BenchClient,
  type BenchServer,
  type ConnectOptions,
  type System,
  type WorkloadKind,
} from "../system.js";
import { placeOrder, streamedOrder, streamingResponse, unaryCall } from "./handlers.js";
import { serveProtosocket } from "./protosocket.js";
import { protosocketOpenChat, protosocketUpload, type StreamingClient } from "./protosocket-streams.js";

// ---- server (connect-served) ---------------------------------------------------------

const echoImpl: ServiceImpl<typeof EchoService> = {
  echo(request) {
    return { message: request.message, payload: request.payload };
  },
  async *count(request) {
    for (let n = 1; n <= request.count; n++) yield { n };
  },
  fail(request) {
    throw new ConnectError(request.message, request.code as Code);
  },
};

const benchImpl: ServiceImpl<typeof BenchService> = {
  placeOrder: (request) => placeOrder(request),
  async *listOrders(request) {
    for (let n = 1; n <= request.count; n++) yield streamedOrder(n);
  },
  unaryCall: (request) => unaryCall(request),
  async *streamingFromServer(request) {
    const body = new Uint8Array(request.request?.responseSize ?? 0);
    for (let n = 1; n <= request.count; n++) yield streamingResponse(body);
  },
};

const streamingImpl: ServiceImpl<typeof StreamingService> = {
  async upload(requests) {
    let chunks = 0;
    let bytes = 0;
    let lastSeq = 0;
    for await (const chunk of requests) {
      chunks++;
      bytes += chunk.data.length;
      lastSeq = chunk.seq;
    }
    return { chunks, bytes: BigInt(bytes), lastSeq };
  },
  async *chat(requests) {
    for await (const m of requests) yield m;
  },
  ping(request) {
    return request;
  },
};

/** connect-es implementations on a protosocket server: one message set (one envelope pair) per listener, as `protosocket`'s. */
async function serveConnect(port: number, set: MessageSet, workload: WorkloadKind | undefined): Promise<BenchServer> {
  const server = createServer();
  if (workload !== undefined && REQUEST_STREAM_WORKLOADS.includes(workload)) registerConnect(server, StreamingService, streamingImpl);
  else if (set === "small") registerConnect(server, EchoService, echoImpl);
  else registerConnect(server, BenchService, benchImpl);
  const address = await server.listen({ host: "127.0.0.1", port });
  return { port: address.port, close: () => server.close() };
}

// ---- client ------------------------------------------------------------------------

class ConnectTransportClient implements BenchClient {
  private readonly echo: Client<typeof EchoService>;
  private readonly bench: Client<typeof BenchService>;
  private readonly streaming: Client<typeof StreamingService>;

  constructor(private readonly transport: ProtosocketTransport) {
    this.echo = createClient(EchoService, transport);
    this.bench = createClient(BenchService, transport);
    this.streaming = createClient(StreamingService, transport);
  }

  async unary(set: MessageSet, payload: Uint8Array): Promise<number> {
    if (set === "small") {
      const response = await this.echo.echo({ message: ECHO_MESSAGE, payload });
      return response.payload.length;
    }
    if (set === "realistic") {
      const response = await this.bench.placeOrder(ORDER);
      if (response.id !== ORDER.id || response.status !== ORDER_PLACED) throw new Error("PlaceOrder answered another order");
      return response.tags.length;
    }
    const response = await this.bench.unaryCall({ responseType: 0, responseSize: payload.length, payload: { type: 0, body: payload } });
    return response.payload?.body.length ?? -1;
  }

  async stream(set: MessageSet, count: number): Promise<number> {
    let received = 0;
    const items: AsyncIterable<unknown> =
      set === "small"
        ? this.echo.count({ count })
        : set === "realistic"
          ? this.bench.listOrders({ count })
          : this.bench.streamingFromServer({ request: { responseSize: GRPC_PAYLOAD_BYTES }, count });
    for await (const _ of items) received++;
    return received;
  }

  upload(stop: () => boolean): Promise<number> {
    return protosocketUpload(this.streaming as unknown as StreamingClient, stop);
  }

  async openChat(): Promise<BenchChat> {
    return protosocketOpenChat(this.streaming as unknown as StreamingClient);
  }

  async close(): Promise<void> {
    this.transport.close();
  }
}

/** One connection, opened before the measurement, under a connect-es transport. */
async function connectTransport(options: ConnectOptions): Promise<BenchClient> {
  const connection = await connect({ host: options.host, port: options.port });
  return new ConnectTransportClient(createProtosocketTransport({ transport: connection }));
}

export const connectTransportSystem: System = {
  name: "connect-transport",
  description: "connect-es clients over @protosocket/connect's transport, one connection, against the protosocket server",
  server: "protosocket",
  unsupported: { "connect-rate": "the same connections as protosocket: see protosocket" },
  requestStreams: true,
  serve: (port, set, workload) => serveProtosocket(port, set, workload),
  connect: connectTransport,
};

export const connectServedSystem: System = {
  name: "connect-served",
  description: "connect-es clients and connect-es implementations (registerConnect) over protosocket, one connection",
  server: "connect-served",
  unsupported: { "connect-rate": "the same connections as protosocket: see protosocket" },
  requestStreams: true,
  serve: serveConnect,
  connect: connectTransport,
};
