// Apache Thrift for Node (npm `thrift`): framed transport, binary protocol, raw TCP, with
// the code Debian's thrift-compiler generates from bench/thrift/bench.thrift (BenchService,
// which extends echo.thrift's EchoService; committed in bench/thrift/gen, CommonJS). Thrift
// has no server streaming, so this system does not run the `stream` workload.
//
// One connection carries many calls at once: the generated client numbers each call
// (seqid) and the connection routes each reply to its callback by seqid; the server
// handles every frame as it arrives. test/thrift-multiplex.test.ts proves it.

import { createRequire } from "node:module";
import { once } from "node:events";
import thrift from "thrift";
import { ORDER, ORDER_PLACED, streamedOrderId, type MessageSet } from "../messages.js";
import { ECHO_MESSAGE, type BenchClient, type BenchServer, type ConnectOptions, type System } from "../system.js";

const require = createRequire(import.meta.url);

// The shapes of the generated module that this file uses (its own .d.ts targets the
// CommonJS `import = require` style, so it is typed here by hand).
export interface ThriftEchoRequest {
  message: string;
  payload: Buffer;
}
export interface ThriftEchoResponse {
  message: string;
  payload: Buffer;
}
/** node-int64's Int64, which generated code uses for i64. */
export interface Int64 {
  toNumber(allowImprecise?: boolean): number;
}
interface Customer {
  id: Int64;
  name: string;
  email: string;
}
export interface ThriftOrder {
  id: Int64;
  created_at_ms: Int64;
  amount: number;
  tags: string[];
  customer: Customer;
  attributes: Record<string, string>;
  status?: number;
}
interface ThriftPayload {
  type: number;
  body: Buffer;
}
interface ThriftSimpleRequest {
  response_type: number;
  response_size: number;
  payload: ThriftPayload | null;
}
interface ThriftSimpleResponse {
  payload: ThriftPayload | null;
}
export interface ThriftEchoClient {
  Echo(request: ThriftEchoRequest): Promise<ThriftEchoResponse>;
  PlaceOrder(request: ThriftOrder): Promise<ThriftOrder>;
  UnaryCall(request: ThriftSimpleRequest): Promise<ThriftSimpleResponse>;
}
type Result<T> = (error: Error | null, response?: T) => void;
export interface ThriftEchoHandler {
  Echo(request: ThriftEchoRequest, result: Result<ThriftEchoResponse>): void;
  Count(request: { count: number }, result: Result<{ n: number }[]>): void;
  Fail(request: { code: number; message: string }, result: (error: unknown, response?: object) => void): void;
  PlaceOrder(request: ThriftOrder, result: Result<ThriftOrder>): void;
  ListOrders(request: { count: number }, result: Result<ThriftOrder[]>): void;
  UnaryCall(request: ThriftSimpleRequest, result: Result<ThriftSimpleResponse>): void;
  StreamingFromServer(request: { request: ThriftSimpleRequest | null; count: number }, result: Result<ThriftSimpleResponse[]>): void;
}
type Ctor<T> = new (init: T) => T;
interface Generated {
  EchoService: { Client: new (...args: never[]) => ThriftEchoClient; Processor: unknown };
  BenchService: { Client: new (...args: never[]) => ThriftEchoClient; Processor: unknown };
  types: {
    EchoRequest: Ctor<ThriftEchoRequest>;
    EchoResponse: Ctor<ThriftEchoResponse>;
    CountResponse: Ctor<{ n: number }>;
    EchoError: new (init: { code: number; message: string }) => object;
  };
  bench: {
    Customer: Ctor<Customer>;
    PlaceOrderRequest: Ctor<ThriftOrder>;
    PlaceOrderResponse: Ctor<ThriftOrder>;
    Payload: Ctor<ThriftPayload>;
    SimpleRequest: Ctor<ThriftSimpleRequest>;
    SimpleResponse: Ctor<ThriftSimpleResponse>;
  };
}

// Both src/systems and dist/systems sit two levels under bench/.
export const generated: Generated = {
  EchoService: require("../../thrift/gen/EchoService.js") as Generated["EchoService"],
  BenchService: require("../../thrift/gen/BenchService.js") as Generated["BenchService"],
  types: require("../../thrift/gen/echo_types.js") as Generated["types"],
  bench: require("../../thrift/gen/bench_types.js") as Generated["bench"],
};
const Int64Class = require("node-int64") as new (value: number) => Int64;

const OPTIONS = { transport: thrift.TFramedTransport, protocol: thrift.TBinaryProtocol };

function order(id: number, status: number | undefined, Type: Ctor<ThriftOrder>): ThriftOrder {
  const init: ThriftOrder = {
    id: new Int64Class(id),
    created_at_ms: new Int64Class(Number(ORDER.createdAtMs)),
    amount: ORDER.amount,
    tags: ORDER.tags,
    customer: new generated.bench.Customer({
      id: new Int64Class(Number(ORDER.customer.id)),
      name: ORDER.customer.name,
      email: ORDER.customer.email,
    }),
    attributes: ORDER.attributes,
  };
  if (status !== undefined) init.status = status;
  return new Type(init);
}

/** The same handlers as every other system; callback style (no promise per call). */
export const thriftHandler: ThriftEchoHandler = {
  Echo(request, result) {
    result(null, new generated.types.EchoResponse({ message: request.message, payload: request.payload }));
  },
  Count(request, result) {
    const list = new Array<{ n: number }>(request.count);
    for (let n = 1; n <= request.count; n++) list[n - 1] = new generated.types.CountResponse({ n });
    result(null, list);
  },
  Fail(request, result) {
    result(new generated.types.EchoError({ code: request.code, message: request.message }));
  },
  PlaceOrder(request, result) {
    result(
      null,
      new generated.bench.PlaceOrderResponse({
        id: request.id,
        created_at_ms: request.created_at_ms,
        amount: request.amount,
        tags: request.tags,
        customer: request.customer,
        attributes: request.attributes,
        status: ORDER_PLACED,
      }),
    );
  },
  ListOrders(request, result) {
    const list = new Array<ThriftOrder>(request.count);
    for (let n = 1; n <= request.count; n++)
      list[n - 1] = order(Number(streamedOrderId(n)), ORDER_PLACED, generated.bench.PlaceOrderResponse);
    result(null, list);
  },
  UnaryCall(request, result) {
    result(
      null,
      new generated.bench.SimpleResponse({ payload: new generated.bench.Payload({ type: 0, body: Buffer.alloc(request.response_size) }) }),
    );
  },
  StreamingFromServer(request, result) {
    const body = Buffer.alloc(request.request?.response_size ?? 0);
    const list = new Array<ThriftSimpleResponse>(request.count);
    for (let n = 0; n < request.count; n++)
      list[n] = new generated.bench.SimpleResponse({ payload: new generated.bench.Payload({ type: 0, body }) });
    result(null, list);
  },
};

/** Starts a Thrift server (BenchService, which includes EchoService) with these handlers on 127.0.0.1:port. */
export async function serveThrift(port: number, handler: ThriftEchoHandler = thriftHandler): Promise<BenchServer> {
  // The generic types of @types/thrift do not fit generated code; the runtime takes these.
  const server = thrift.createServer(generated.BenchService as never, handler as never, OPTIONS);
  server.listen(port, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("server has no TCP address");
  return {
    port: address.port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Opens one Thrift connection and its generated client. */
export async function connectThrift(
  options: Omit<ConnectOptions, "set">,
): Promise<{ connection: thrift.Connection; client: ThriftEchoClient }> {
  const connection = thrift.createConnection(options.host, options.port, OPTIONS);
  const failed = new Promise<never>((_, reject) => connection.once("error", reject));
  await Promise.race([once(connection, "connect"), failed]);
  const client = thrift.createClient(generated.BenchService.Client as never, connection) as ThriftEchoClient;
  return { connection, client };
}

class ThriftClient implements BenchClient {
  constructor(
    private readonly connection: thrift.Connection,
    private readonly client: ThriftEchoClient,
  ) {}

  async unary(set: MessageSet, payload: Uint8Array): Promise<number> {
    const buffer = Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    if (set === "small") {
      const response = await this.client.Echo(new generated.types.EchoRequest({ message: ECHO_MESSAGE, payload: buffer }));
      return response.payload.length;
    }
    if (set === "realistic") {
      const response = await this.client.PlaceOrder(order(Number(ORDER.id), undefined, generated.bench.PlaceOrderRequest));
      if (response.id.toNumber() !== Number(ORDER.id) || response.status !== ORDER_PLACED)
        throw new Error("PlaceOrder answered another order");
      return response.tags.length;
    }
    const response = await this.client.UnaryCall(
      new generated.bench.SimpleRequest({
        response_type: 0,
        response_size: payload.length,
        payload: new generated.bench.Payload({ type: 0, body: buffer }),
      }),
    );
    return response.payload?.body.length ?? -1;
  }

  stream(): Promise<number> {
    return Promise.reject(new Error("thrift: no server streaming"));
  }

  async close(): Promise<void> {
    const closed = once(this.connection, "close");
    this.connection.end();
    await closed;
  }
}

export const thriftSystem: System = {
  name: "thrift",
  description: "Apache Thrift (npm thrift), framed transport, binary protocol, raw TCP, thrift-compiler code",
  server: "thrift",
  unsupported: { stream: "Thrift has no server streaming" },
  serve: (port) => serveThrift(port),
  async connect(options: ConnectOptions): Promise<BenchClient> {
    const { connection, client } = await connectThrift(options);
    return new ThriftClient(connection, client);
  },
};
