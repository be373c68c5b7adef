// @grpc/grpc-js over h2c. The service definition is written by hand so that its
// serialize/deserialize are protobuf-es toBinary/fromBinary with the generated schemas:
// the same codec as protosocket-ts, so the comparison is of the RPC layer alone.

import * as grpc from "@grpc/grpc-js";
import { create, fromBinary, toBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import {
  CountRequestSchema,
  CountResponseSchema,
  EchoRequestSchema,
  EchoResponseSchema,
  type CountRequest,
  type CountResponse,
  type EchoRequest,
  type EchoResponse,
} from "@protosocket/gen/echo/v1/echo_pb.js";
import {
  ListOrdersRequestSchema,
  PlaceOrderRequestSchema,
  PlaceOrderResponseSchema,
  SimpleRequestSchema,
  SimpleResponseSchema,
  StreamingFromServerRequestSchema,
  type ListOrdersRequest,
  type PlaceOrderRequest,
  type PlaceOrderResponse,
  type SimpleRequest,
  type SimpleResponse,
  type StreamingFromServerRequest,
} from "@protosocket/gen/bench/v1/bench_pb.js";
import { GRPC_PAYLOAD_BYTES, ORDER, ORDER_PLACED, type MessageSet } from "../messages.js";
import { ECHO_MESSAGE, type BenchChat, type BenchClient, type BenchServer, type ConnectOptions, type System } from "../system.js";
import { grpcOpenChat, grpcUpload, streamingImplementation, streamingServiceDefinition } from "./grpc-js-streams.js";
import { placeOrder, streamedOrder, streamingResponse, unaryCall } from "./handlers.js";

/** The grpc-js serializer and deserializer of a protobuf-es schema: toBinary / fromBinary. */
function codec<Desc extends DescMessage>(schema: Desc) {
  return {
    serialize: (m: MessageShape<Desc>): Buffer => Buffer.from(toBinary(schema, m)),
    deserialize: (b: Buffer): MessageShape<Desc> => fromBinary(schema, b),
  };
}

const echoRequest = codec(EchoRequestSchema);
const echoResponse = codec(EchoResponseSchema);
const countRequest = codec(CountRequestSchema);
const countResponse = codec(CountResponseSchema);
const placeOrderRequest = codec(PlaceOrderRequestSchema);
const placeOrderResponse = codec(PlaceOrderResponseSchema);
const listOrdersRequest = codec(ListOrdersRequestSchema);
const simpleRequest = codec(SimpleRequestSchema);
const simpleResponse = codec(SimpleResponseSchema);
const streamingRequest = codec(StreamingFromServerRequestSchema);

function method<Req, Res>(
  path: string,
  responseStream: boolean,
  req: { serialize(m: Req): Buffer; deserialize(b: Buffer): Req },
  res: { serialize(m: Res): Buffer; deserialize(b: Buffer): Res },
) {
  return {
    path,
    requestStream: false,
    responseStream,
    requestSerialize: req.serialize,
    requestDeserialize: req.deserialize,
    responseSerialize: res.serialize,
    responseDeserialize: res.deserialize,
  };
}

export const echoServiceDefinition = {
  echo: method<EchoRequest, EchoResponse>("/echo.v1.EchoService/Echo", false, echoRequest, echoResponse),
  count: method<CountRequest, CountResponse>("/echo.v1.EchoService/Count", true, countRequest, countResponse),
} satisfies grpc.ServiceDefinition;

export const benchServiceDefinition = {
  placeOrder: method<PlaceOrderRequest, PlaceOrderResponse>(
    "/bench.v1.BenchService/PlaceOrder",
    false,
    placeOrderRequest,
    placeOrderResponse,
  ),
  listOrders: method<ListOrdersRequest, PlaceOrderResponse>(
    "/bench.v1.BenchService/ListOrders",
    true,
    listOrdersRequest,
    placeOrderResponse,
  ),
  unaryCall: method<SimpleRequest, SimpleResponse>("/bench.v1.BenchService/UnaryCall", false, simpleRequest, simpleResponse),
  streamingFromServer: method<StreamingFromServerRequest, SimpleResponse>(
    "/bench.v1.BenchService/StreamingFromServer",
    true,
    streamingRequest,
    simpleResponse,
  ),
} satisfies grpc.ServiceDefinition;

/** Writes `count` messages with backpressure, then ends the call. */
function pump<T>(call: grpc.ServerWritableStream<unknown, T>, count: number, item: (n: number) => T): void {
  let n = 1;
  let cancelled = false;
  call.on("cancelled", () => (cancelled = true));
  const go = (): void => {
    while (n <= count && !cancelled) {
      if (!call.write(item(n++))) {
        call.once("drain", go);
        return;
      }
    }
    if (!cancelled) call.end();
  };
  go();
}

const echoImplementation: grpc.UntypedServiceImplementation = {
  echo(call: grpc.ServerUnaryCall<EchoRequest, EchoResponse>, callback: grpc.sendUnaryData<EchoResponse>) {
    const request = call.request;
    callback(null, create(EchoResponseSchema, { message: request.message, payload: request.payload }));
  },
  count(call: grpc.ServerWritableStream<CountRequest, CountResponse>) {
    pump(call, call.request.count, (n) => create(CountResponseSchema, { n }));
  },
};

const benchImplementation: grpc.UntypedServiceImplementation = {
  placeOrder(call: grpc.ServerUnaryCall<PlaceOrderRequest, PlaceOrderResponse>, callback: grpc.sendUnaryData<PlaceOrderResponse>) {
    callback(null, create(PlaceOrderResponseSchema, placeOrder(call.request)));
  },
  listOrders(call: grpc.ServerWritableStream<ListOrdersRequest, PlaceOrderResponse>) {
    pump(call, call.request.count, (n) => create(PlaceOrderResponseSchema, streamedOrder(n)));
  },
  unaryCall(call: grpc.ServerUnaryCall<SimpleRequest, SimpleResponse>, callback: grpc.sendUnaryData<SimpleResponse>) {
    callback(null, create(SimpleResponseSchema, unaryCall(call.request)));
  },
  streamingFromServer(call: grpc.ServerWritableStream<StreamingFromServerRequest, SimpleResponse>) {
    const body = new Uint8Array(call.request.request?.responseSize ?? 0);
    pump(call, call.request.count, () => create(SimpleResponseSchema, streamingResponse(body)));
  },
};

/** Channel options shared by every grpc-js client here: one HTTP/2 connection, no limits in the way. */
const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  "grpc.max_receive_message_length": 16 * 1024 * 1024,
  "grpc.max_send_message_length": 16 * 1024 * 1024,
};

class GrpcJsClient implements BenchClient {
  constructor(private readonly client: grpc.Client) {}

  private unaryCall<Req, Res>(m: ReturnType<typeof method<Req, Res>>, request: Req): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      this.client.makeUnaryRequest(m.path, m.requestSerialize, m.responseDeserialize, request, (error, response) => {
        if (error !== null || response === undefined) reject(error ?? new Error("grpc-js: no response"));
        else resolve(response);
      });
    });
  }

  private streamCall<Req, Res>(m: ReturnType<typeof method<Req, Res>>, request: Req): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      let received = 0;
      const call = this.client.makeServerStreamRequest(m.path, m.requestSerialize, m.responseDeserialize, request);
      call.on("data", () => received++);
      call.on("error", reject);
      call.on("end", () => resolve(received));
    });
  }

  async unary(set: MessageSet, payload: Uint8Array): Promise<number> {
    if (set === "small") {
      const response = await this.unaryCall(echoServiceDefinition.echo, create(EchoRequestSchema, { message: ECHO_MESSAGE, payload }));
      return response.payload.length;
    }
    if (set === "realistic") {
      const response = await this.unaryCall(benchServiceDefinition.placeOrder, create(PlaceOrderRequestSchema, ORDER));
      if (response.id !== ORDER.id || response.status !== ORDER_PLACED) throw new Error("PlaceOrder answered another order");
      return response.tags.length;
    }
    const response = await this.unaryCall(
      benchServiceDefinition.unaryCall,
      create(SimpleRequestSchema, { responseType: 0, responseSize: payload.length, payload: { type: 0, body: payload } }),
    );
    return response.payload?.body.length ?? -1;
  }

  stream(set: MessageSet, count: number): Promise<number> {
    if (set === "small") return this.streamCall(echoServiceDefinition.count, create(CountRequestSchema, { count }));
    if (set === "realistic") return this.streamCall(benchServiceDefinition.listOrders, create(ListOrdersRequestSchema, { count }));
    return this.streamCall(
      benchServiceDefinition.streamingFromServer,
      create(StreamingFromServerRequestSchema, { request: { responseSize: GRPC_PAYLOAD_BYTES }, count }),
    );
  }

  upload(stop: () => boolean): Promise<number> {
    return grpcUpload(this.client, stop);
  }

  async openChat(): Promise<BenchChat> {
    return grpcOpenChat(this.client);
  }

  async close(): Promise<void> {
    this.client.close();
  }
}

export const grpcJs: System = {
  name: "grpc-js",
  description: "@grpc/grpc-js, gRPC over h2c, protobuf-es toBinary/fromBinary as its codec",
  server: "grpc-js",
  requestStreams: true,
  async serve(port: number): Promise<BenchServer> {
    const server = new grpc.Server(CHANNEL_OPTIONS);
    server.addService(echoServiceDefinition, echoImplementation);
    server.addService(benchServiceDefinition, benchImplementation);
    server.addService(streamingServiceDefinition, streamingImplementation);
    const bound = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (error, p) =>
        error === null ? resolve(p) : reject(error),
      ),
    );
    return {
      port: bound,
      close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
    };
  },
  async connect(options: ConnectOptions): Promise<BenchClient> {
    const client = new grpc.Client(`${options.host}:${options.port}`, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
    await new Promise<void>((resolve, reject) =>
      client.waitForReady(Date.now() + 10_000, (error) => (error === undefined || error === null ? resolve() : reject(error))),
    );
    return new GrpcJsClient(client);
  },
};
