// @connectrpc/connect-node with the generated EchoService descriptor: one HTTP/2 (h2c)
// server that speaks both protocols, and two client systems — the gRPC protocol
// (`connect-grpc`) and the Connect protocol (`connect`), both over HTTP/2 with binary
// protobuf and no compression.

import http2 from "node:http2";
import { once } from "node:events";
import { create } from "@bufbuild/protobuf";
import { ConnectError, type Code, createClient, type Client, type Transport } from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport, createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { CountResponseSchema, EchoResponseSchema, EchoService } from "@protosocket/gen/echo/v1/echo_pb.js";
import { BenchService, PlaceOrderResponseSchema, SimpleResponseSchema } from "@protosocket/gen/bench/v1/bench_pb.js";
import { GRPC_PAYLOAD_BYTES, ORDER, ORDER_PLACED, type MessageSet } from "../messages.js";
import { ECHO_MESSAGE, type BenchClient, type BenchServer, type ConnectOptions, type System } from "../system.js";
import { placeOrder, streamedOrder, streamingResponse, unaryCall } from "./handlers.js";

async function serve(port: number): Promise<BenchServer> {
  const handler = connectNodeAdapter({
    acceptCompression: [],
    readMaxBytes: 16 * 1024 * 1024,
    writeMaxBytes: 16 * 1024 * 1024,
    routes(router) {
      router.service(EchoService, {
        echo(request) {
          return create(EchoResponseSchema, { message: request.message, payload: request.payload });
        },
        async *count(request) {
          for (let n = 1; n <= request.count; n++) yield create(CountResponseSchema, { n });
        },
        fail(request) {
          throw new ConnectError(request.message, request.code as Code);
        },
      });
      router.service(BenchService, {
        placeOrder(request) {
          return create(PlaceOrderResponseSchema, placeOrder(request));
        },
        async *listOrders(request) {
          for (let n = 1; n <= request.count; n++) yield create(PlaceOrderResponseSchema, streamedOrder(n));
        },
        unaryCall(request) {
          return create(SimpleResponseSchema, unaryCall(request));
        },
        async *streamingFromServer(request) {
          const body = new Uint8Array(request.request?.responseSize ?? 0);
          for (let n = 1; n <= request.count; n++) yield create(SimpleResponseSchema, streamingResponse(body));
        },
      });
    },
  });
  const server = http2.createServer(handler);
  server.listen(port, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("server has no TCP address");
  return {
    port: address.port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

class ConnectNodeClient implements BenchClient {
  private readonly echo: Client<typeof EchoService>;
  private readonly bench: Client<typeof BenchService>;

  constructor(
    transport: Transport,
    private readonly sessions: Http2SessionManager,
  ) {
    this.echo = createClient(EchoService, transport);
    this.bench = createClient(BenchService, transport);
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

  async close(): Promise<void> {
    this.sessions.abort();
  }
}

function connectWith(protocol: "grpc" | "connect") {
  return async (options: ConnectOptions): Promise<BenchClient> => {
    const baseUrl = `http://${options.host}:${options.port}`;
    const sessions = new Http2SessionManager(baseUrl);
    const common = {
      baseUrl,
      httpVersion: "2" as const,
      sessionManager: sessions,
      useBinaryFormat: true,
      acceptCompression: [],
      readMaxBytes: 16 * 1024 * 1024,
      writeMaxBytes: 16 * 1024 * 1024,
    };
    const transport = protocol === "grpc" ? createGrpcTransport(common) : createConnectTransport(common);
    const state = await sessions.connect();
    if (state === "error") throw new Error(`connect-node: could not connect to ${baseUrl}`);
    return new ConnectNodeClient(transport, sessions);
  };
}

export const connectGrpc: System = {
  name: "connect-grpc",
  description: "@connectrpc/connect-node, gRPC protocol over HTTP/2 (h2c), binary protobuf",
  server: "connect-node",
  serve,
  connect: connectWith("grpc"),
};

export const connectProtocol: System = {
  name: "connect",
  description: "@connectrpc/connect-node, Connect protocol over HTTP/2 (h2c), binary protobuf",
  server: "connect-node",
  serve,
  connect: connectWith("connect"),
};
