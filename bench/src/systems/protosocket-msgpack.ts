// protosocket-ts with MessagePack envelopes (@protosocket/runtime/messagepack, the wire of the
// Rust protosocket-messagepack crate): the same three message sets as the protobuf systems,
// declared as MessagePack schemas with the same fields in the same order (the serde structs a
// Rust service would declare), one service per set, envelopes { request_id, code, body } whose
// body enum has a variant per method. Same handlers, same values, one connection.
//
// No client or bidi streaming (MessagePack services have the Rust crate's two kinds).

import { connect, createClient, createServer, type Transport } from "@protosocket/runtime";
import * as mp from "@protosocket/runtime/messagepack";
import { GRPC_PAYLOAD_BYTES, ORDER, ORDER_PLACED, streamedOrderId, type MessageSet } from "../messages.js";
import { ECHO_MESSAGE, type BenchClient, type BenchServer, type ConnectOptions, type System } from "../system.js";

// ---- schemas (bench.proto / echo.proto, field for field) -----------------------------

interface Echo {
  message: string;
  payload: Uint8Array;
}
const Echo = mp.struct<Echo>("EchoRequest", { message: mp.string, payload: mp.bytes });
interface CountRequest {
  count: number;
  delay_ms: number;
  payload_size: number;
}
const CountRequest = mp.struct<CountRequest>("CountRequest", { count: mp.u32, delay_ms: mp.u32, payload_size: mp.u32 });
interface CountResponse {
  n: number;
  payload: Uint8Array;
}
const CountResponse = mp.struct<CountResponse>("CountResponse", { n: mp.u32, payload: mp.bytes });

interface Customer {
  id: number | bigint;
  name: string;
  email: string;
}
const Customer = mp.struct<Customer>("Customer", { id: mp.u64, name: mp.string, email: mp.string });
interface Order {
  id: number | bigint;
  created_at_ms: number | bigint;
  amount: number;
  tags: string[];
  customer: Customer | undefined;
  attributes: Record<string, string>;
}
const orderFields = {
  id: mp.u64,
  created_at_ms: mp.i64,
  amount: mp.f64,
  tags: mp.vec(mp.string),
  customer: mp.option(Customer),
  attributes: mp.map(mp.string),
};
const PlaceOrderRequest = mp.struct<Order>("PlaceOrderRequest", orderFields);
interface PlacedOrder extends Order {
  status: number;
}
const PlaceOrderResponse = mp.struct<PlacedOrder>("PlaceOrderResponse", { ...orderFields, status: mp.i32 });
interface ListOrdersRequest {
  count: number;
}
const ListOrdersRequest = mp.struct<ListOrdersRequest>("ListOrdersRequest", { count: mp.u32 });

interface Payload {
  type: number;
  body: Uint8Array;
}
const Payload = mp.struct<Payload>("Payload", { type: mp.i32, body: mp.bytes });
interface BoolValue {
  value: boolean;
}
const BoolValue = mp.struct<BoolValue>("BoolValue", { value: mp.bool });
interface EchoStatus {
  code: number;
  message: string;
}
const EchoStatus = mp.struct<EchoStatus>("EchoStatus", { code: mp.i32, message: mp.string });
interface SimpleRequest {
  response_type: number;
  response_size: number;
  payload: Payload | undefined;
  fill_username: boolean;
  fill_oauth_scope: boolean;
  response_compressed: BoolValue | undefined;
  response_status: EchoStatus | undefined;
  expect_compressed: BoolValue | undefined;
  fill_server_id: boolean;
  fill_grpclb_route_type: boolean;
}
const SimpleRequest = mp.struct<SimpleRequest>("SimpleRequest", {
  response_type: mp.i32,
  response_size: mp.i32,
  payload: mp.option(Payload),
  fill_username: mp.bool,
  fill_oauth_scope: mp.bool,
  response_compressed: mp.option(BoolValue),
  response_status: mp.option(EchoStatus),
  expect_compressed: mp.option(BoolValue),
  fill_server_id: mp.bool,
  fill_grpclb_route_type: mp.bool,
});
interface SimpleResponse {
  payload: Payload | undefined;
  username: string;
  oauth_scope: string;
  server_id: string;
  grpclb_route_type: number;
  hostname: string;
}
const SimpleResponse = mp.struct<SimpleResponse>("SimpleResponse", {
  payload: mp.option(Payload),
  username: mp.string,
  oauth_scope: mp.string,
  server_id: mp.string,
  grpclb_route_type: mp.i32,
  hostname: mp.string,
});
interface StreamingFromServerRequest {
  request: SimpleRequest | undefined;
  count: number;
}
const StreamingFromServerRequest = mp.struct<StreamingFromServerRequest>("StreamingFromServerRequest", {
  request: mp.option(SimpleRequest),
  count: mp.u32,
});

const Status = mp.struct<{ code: number; message: string }>("Status", { code: mp.u32, message: mp.string });
const request: mp.EnvelopeSpec = { name: "Request", fields: { request_id: "id", code: "code", body: "body" } };
const response: mp.EnvelopeSpec = { name: "Response", fields: { request_id: "id", code: "code", body: "body" } };
const error: mp.ErrorCaseSpec = { schema: Status };

const EchoService = mp.defineMessagePackService({
  typeName: "echo.EchoService",
  request,
  response,
  error,
  methods: { echo: mp.unary(Echo, Echo), count: mp.serverStreaming(CountRequest, CountResponse) },
});
const BenchService = mp.defineMessagePackService({
  typeName: "bench.BenchService",
  request,
  response,
  error,
  methods: {
    placeOrder: mp.unary(PlaceOrderRequest, PlaceOrderResponse),
    listOrders: mp.serverStreaming(ListOrdersRequest, PlaceOrderResponse),
    unaryCall: mp.unary(SimpleRequest, SimpleResponse),
    streamingFromServer: mp.serverStreaming(StreamingFromServerRequest, SimpleResponse),
  },
});

const EMPTY = new Uint8Array(0);
const ORDER_VALUE: Order = {
  id: ORDER.id,
  created_at_ms: ORDER.createdAtMs,
  amount: ORDER.amount,
  tags: ORDER.tags,
  customer: ORDER.customer,
  attributes: ORDER.attributes,
};
const ORDER_ID = Number(ORDER.id);

function simpleResponse(body: Uint8Array): SimpleResponse {
  return { payload: { type: 0, body }, username: "", oauth_scope: "", server_id: "", grpclb_route_type: 0, hostname: "" };
}

function simpleRequest(size: number, body: Uint8Array | undefined): SimpleRequest {
  return {
    response_type: 0,
    response_size: size,
    payload: body === undefined ? undefined : { type: 0, body },
    fill_username: false,
    fill_oauth_scope: false,
    response_compressed: undefined,
    response_status: undefined,
    expect_compressed: undefined,
    fill_server_id: false,
    fill_grpclb_route_type: false,
  };
}

// ---- server ------------------------------------------------------------------------

async function serve(port: number, set: MessageSet): Promise<BenchServer> {
  const server = createServer();
  if (set === "small") {
    server.register(EchoService, {
      echo: (req) => ({ message: req.message, payload: req.payload }),
      async *count(req) {
        for (let n = 1; n <= req.count; n++) yield { n, payload: EMPTY };
      },
    });
  } else {
    server.register(BenchService, {
      placeOrder: (req) => ({ ...req, status: ORDER_PLACED }),
      async *listOrders(req) {
        for (let n = 1; n <= req.count; n++) yield { ...ORDER_VALUE, id: streamedOrderId(n), status: ORDER_PLACED };
      },
      unaryCall: (req) => simpleResponse(new Uint8Array(req.response_size)),
      async *streamingFromServer(req) {
        const body = new Uint8Array(req.request?.response_size ?? 0);
        for (let n = 1; n <= req.count; n++) yield simpleResponse(body);
      },
    });
  }
  const address = await server.listen({ host: "127.0.0.1", port });
  return { port: address.port, close: () => server.close() };
}

// ---- client ------------------------------------------------------------------------

class MessagePackClient implements BenchClient {
  constructor(
    private readonly echo: mp.MessagePackClient<typeof EchoService>,
    private readonly bench: mp.MessagePackClient<typeof BenchService>,
    private readonly transport: Transport,
  ) {}

  async unary(set: MessageSet, payload: Uint8Array): Promise<number> {
    if (set === "small") return (await this.echo.echo({ message: ECHO_MESSAGE, payload })).payload.length;
    if (set === "realistic") {
      const placed = await this.bench.placeOrder(ORDER_VALUE);
      if (placed.id !== ORDER_ID || placed.status !== ORDER_PLACED) throw new Error("PlaceOrder answered another order");
      return placed.tags.length;
    }
    return (await this.bench.unaryCall(simpleRequest(payload.length, payload))).payload?.body.length ?? -1;
  }

  async stream(set: MessageSet, count: number): Promise<number> {
    let received = 0;
    let items: AsyncIterable<unknown>;
    if (set === "small") items = this.echo.count({ count, delay_ms: 0, payload_size: 0 });
    else if (set === "realistic") items = this.bench.listOrders({ count });
    else items = this.bench.streamingFromServer({ request: simpleRequest(GRPC_PAYLOAD_BYTES, undefined), count });
    for await (const _ of items) received++;
    return received;
  }

  async close(): Promise<void> {
    this.transport.close();
  }
}

export const protosocketMsgpack: System = {
  name: "protosocket-msgpack",
  description: "protosocket-ts with MessagePack envelopes (protosocket-messagepack's wire), one connection",
  server: "protosocket-msgpack",
  serve: (port, set) => serve(port, set),
  async connect(options: ConnectOptions): Promise<BenchClient> {
    const transport = await connect({ host: options.host, port: options.port });
    return new MessagePackClient(createClient(EchoService, transport), createClient(BenchService, transport), transport);
  },
};
