// ============================================================================
//  protosocket-ts — OUR system. The one file to edit when the runtime changes.
// ============================================================================
//
// Registered as `protosocket` (one connection) and `protosocket-4conn` (four
// connections, calls spread round-robin). When `@protosocket/runtime` cannot be imported
// (packages/runtime not built) or lacks an export below, both are skipped with
// "not yet available: …"; `npm run bench` builds packages/runtime first.
//
// What this module expects from @protosocket/runtime (checked at load; these are the
// runtime's names as of its first version in main — adapt the few calls below if they
// change; nothing else in bench/ knows them):
//
//   serviceFromRegistry(service: DescService, registry: Registry): ServiceDefinition
//       echo.v1.EchoService (small messages) and bench.v1.BenchService (realistic and
//       grpc messages) bound to their envelopes at run time from the protobuf-es
//       descriptors in src/gen. protoc-gen-protosocket's EchoServiceDefinition carries the
//       same binding compiled in; to use it, add the plugin to bench/buf.gen.yaml and
//       import it here statically (the per-call path is the same: createClient / register).
//   createServer(): Server
//       server.register(definition, impl)   every method of the service implemented
//       server.listen({ host, port })       resolves with { port } (port 0 = any free port)
//       server.close()
//   connect({ host, port }): Promise<Transport>
//       one TCP connection; transport.close()
//   createClient(definition, transport): one method per rpc: unary ones return a Promise,
//                                        streaming ones an AsyncIterable
//
// The handlers are the same as every other system's (src/systems/handlers.ts): echo
// returns the request's message and payload; count yields { n } for n = 1..count.

import { createRegistry, type DescService, type Registry } from "@bufbuild/protobuf";
import { file_protosocket_v1_status } from "../gen/protosocket/v1/status_pb.js";
import { EchoService, file_echo_v1_echo, type EchoRequest, type EchoResponse } from "../gen/echo/v1/echo_pb.js";
import {
  BenchService,
  file_bench_v1_bench,
  type ListOrdersRequest,
  type PlaceOrderRequest,
  type PlaceOrderResponse,
  type SimpleRequest,
  type SimpleResponse,
  type StreamingFromServerRequest,
} from "../gen/bench/v1/bench_pb.js";
import { ECHO_MESSAGE, type BenchClient, type BenchServer, type ConnectOptions, type System } from "../system.js";
import { GRPC_PAYLOAD_BYTES, ORDER, ORDER_PLACED, type MessageSet } from "../messages.js";
import { placeOrder, streamedOrder, streamingResponse, unaryCall } from "./handlers.js";

// ---- the shapes this file relies on ------------------------------------------------

type ServiceDefinition = object;
type Impl = Record<string, (request: never) => unknown>;

interface RuntimeServer {
  register(definition: ServiceDefinition, impl: Impl): void;
  listen(options: { host: string; port: number }): Promise<{ port: number }>;
  close(): Promise<void>;
}

interface RuntimeConnection {
  close(): void | Promise<void>;
}

interface EchoClient {
  echo(request: { message: string; payload: Uint8Array }): Promise<EchoResponse>;
  count(request: { count: number }): AsyncIterable<unknown>;
}

interface BenchServiceClient {
  placeOrder(request: typeof ORDER): Promise<PlaceOrderResponse>;
  listOrders(request: { count: number }): AsyncIterable<unknown>;
  unaryCall(request: object): Promise<SimpleResponse>;
  streamingFromServer(request: object): AsyncIterable<unknown>;
}

interface Runtime {
  serviceFromRegistry(service: DescService, registry: Registry): ServiceDefinition;
  createServer(): RuntimeServer;
  connect(options: { host: string; port: number }): Promise<RuntimeConnection>;
  createClient(definition: ServiceDefinition, connection: RuntimeConnection): unknown;
}

const EXPECTED_EXPORTS = ["serviceFromRegistry", "createServer", "connect", "createClient"] as const;

// ---- loading -----------------------------------------------------------------------

// A variable specifier keeps tsc from resolving the package, so the bench builds while the
// runtime does not exist yet. When wiring in, replace with `import * as runtime from "@protosocket/runtime"`.
const RUNTIME_SPECIFIER: string = "@protosocket/runtime";

interface Loaded {
  runtime: Runtime;
  echo: ServiceDefinition;
  bench: ServiceDefinition;
}

let loaded: Promise<Loaded | string> | undefined;

function load(): Promise<Loaded | string> {
  loaded ??= (async () => {
    let module: Record<string, unknown>;
    try {
      module = (await import(RUNTIME_SPECIFIER)) as Record<string, unknown>;
    } catch (error) {
      return `not yet available: ${RUNTIME_SPECIFIER} cannot be imported (${(error as Error).message.split("\n")[0]})`;
    }
    const missing = EXPECTED_EXPORTS.filter((name) => typeof module[name] !== "function");
    if (missing.length > 0) {
      return `not yet available: ${RUNTIME_SPECIFIER} has no ${missing.join(", ")} (see bench/src/systems/protosocket.ts)`;
    }
    const runtime = module as unknown as Runtime;
    return {
      runtime,
      echo: runtime.serviceFromRegistry(EchoService, createRegistry(file_echo_v1_echo, file_protosocket_v1_status)),
      bench: runtime.serviceFromRegistry(BenchService, createRegistry(file_bench_v1_bench, file_protosocket_v1_status)),
    };
  })();
  return loaded;
}

async function required(): Promise<Loaded> {
  const result = await load();
  if (typeof result === "string") throw new Error(result);
  return result;
}

// ---- server ------------------------------------------------------------------------

const echoImpl = {
  echo(request: EchoRequest) {
    return { message: request.message, payload: request.payload };
  },
  async *count(request: { count: number }) {
    for (let n = 1; n <= request.count; n++) yield { n };
  },
  fail(request: { code: number; message: string }): never {
    throw new Error(request.message);
  },
};

const benchImpl = {
  placeOrder: (request: PlaceOrderRequest) => placeOrder(request),
  async *listOrders(request: ListOrdersRequest) {
    for (let n = 1; n <= request.count; n++) yield streamedOrder(n);
  },
  unaryCall: (request: SimpleRequest) => unaryCall(request),
  async *streamingFromServer(request: StreamingFromServerRequest) {
    const body = new Uint8Array(request.request?.responseSize ?? 0);
    for (let n = 1; n <= request.count; n++) yield streamingResponse(body);
  },
};

/** Serves one message set (small: the echo service; realistic and grpc: the bench service). */
export async function serveProtosocket(port: number, set: MessageSet): Promise<BenchServer> {
  const { runtime, echo, bench } = await required();
  const server = runtime.createServer();
  if (set === "small") server.register(echo, echoImpl as unknown as Impl);
  else server.register(bench, benchImpl as unknown as Impl);
  const address = await server.listen({ host: "127.0.0.1", port });
  return { port: address.port, close: () => server.close() };
}

// ---- client ------------------------------------------------------------------------

class ProtosocketClient implements BenchClient {
  private next = 0;

  constructor(
    private readonly clients: unknown[],
    private readonly connections: RuntimeConnection[],
  ) {}

  private pick<T>(): T {
    const client = this.clients[this.next] as T;
    this.next = (this.next + 1) % this.clients.length;
    return client;
  }

  async unary(set: MessageSet, payload: Uint8Array): Promise<number> {
    if (set === "small") {
      const response = await this.pick<EchoClient>().echo({ message: ECHO_MESSAGE, payload });
      return response.payload.length;
    }
    if (set === "realistic") {
      const response = await this.pick<BenchServiceClient>().placeOrder(ORDER);
      if (response.id !== ORDER.id || response.status !== ORDER_PLACED) throw new Error("PlaceOrder answered another order");
      return response.tags.length;
    }
    const response = await this.pick<BenchServiceClient>().unaryCall({ responseType: 0, responseSize: payload.length, payload: { type: 0, body: payload } });
    return response.payload?.body.length ?? -1;
  }

  async stream(set: MessageSet, count: number): Promise<number> {
    let received = 0;
    let items: AsyncIterable<unknown>;
    if (set === "small") items = this.pick<EchoClient>().count({ count });
    else if (set === "realistic") items = this.pick<BenchServiceClient>().listOrders({ count });
    else items = this.pick<BenchServiceClient>().streamingFromServer({ request: { responseSize: GRPC_PAYLOAD_BYTES }, count });
    for await (const _ of items) received++;
    return received;
  }

  async close(): Promise<void> {
    await Promise.all(this.connections.map(async (c) => c.close()));
  }
}

/** Opens `connectionCount` connections of our client (to any server of the set's envelopes). */
export function connectProtosocket(connectionCount: number) {
  return async (options: ConnectOptions): Promise<BenchClient> => {
    const { runtime, echo, bench } = await required();
    const definition = options.set === "small" ? echo : bench;
    const connections = await Promise.all(
      Array.from({ length: connectionCount }, () => runtime.connect({ host: options.host, port: options.port })),
    );
    return new ProtosocketClient(
      connections.map((c) => runtime.createClient(definition, c)),
      connections,
    );
  };
}

export async function protosocketAvailable(): Promise<string | undefined> {
  const result = await load();
  return typeof result === "string" ? result : undefined;
}

export const protosocket: System = {
  name: "protosocket",
  description: "protosocket-ts (@protosocket/runtime), one connection",
  server: "protosocket",
  available: protosocketAvailable,
  serve: serveProtosocket,
  connect: connectProtosocket(1),
};

export const protosocket4conn: System = {
  name: "protosocket-4conn",
  description: "protosocket-ts (@protosocket/runtime), four connections, calls spread round-robin",
  server: "protosocket",
  unsupported: {
    stream: "one stream uses one connection: see protosocket",
    "connect-rate": "see protosocket",
  },
  available: protosocketAvailable,
  serve: serveProtosocket,
  connect: connectProtosocket(4),
};
