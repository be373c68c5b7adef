// protosocket-ts, the system under test: `protosocket` (one connection),
// `protosocket-4conn` (four connections, calls spread round-robin) and
// `protosocket-intercepted` (one pass-through interceptor on each side: what the
// interceptor seam costs), through the public API of @protosocket/runtime and the
// generated definitions (@protosocket/gen): echo.v1.EchoService for the small set,
// bench.v1.BenchService for the realistic and grpc sets, streaming.v1.StreamingService
// for the client-stream and bidi-pingpong workloads. `npm run bench` builds them first.
//
// The handlers are the same as every other system's (src/systems/handlers.ts): echo
// returns the request's message and payload; count yields { n } for n = 1..count.

import type { BenchService } from "@protosocket/gen/bench/v1/bench_pb.js";
import type { EchoService } from "@protosocket/gen/echo/v1/echo_pb.js";
import type { StreamingService } from "@protosocket/gen/streaming/v1/streaming_pb.js";
import type { EchoServiceClient, EchoServiceHandlers } from "@protosocket/gen/echo/v1/echo_protosocket.js";
import { EchoServiceDefinition } from "@protosocket/gen/echo/v1/echo_protosocket.js";
import { BenchServiceDefinition, type BenchServiceClient, type BenchServiceHandlers } from "@protosocket/gen/bench/v1/bench_protosocket.js";
import { StreamingServiceDefinition } from "@protosocket/gen/streaming/v1/streaming_protosocket.js";
import {
  connect,
  createClient,
  createServer,
  type Interceptor,
  type ServerInterceptor,
  type ServiceDefinition,
  type Transport,
} from "@protosocket/runtime";
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
import { protosocketOpenChat, protosocketUpload, streamingImpl, type StreamingClient } from "./protosocket-streams.js";

/** The definitions a protosocket system serves and calls: bound to their own envelopes, or on the standard envelope. */
export interface ProtosocketDefinitions {
  readonly echo: ServiceDefinition<typeof EchoService>;
  readonly bench: ServiceDefinition<typeof BenchService>;
  readonly streaming: ServiceDefinition<typeof StreamingService>;
}

/** The generated definitions, each bound to its own envelopes. */
const BOUND: ProtosocketDefinitions = {
  echo: EchoServiceDefinition,
  bench: BenchServiceDefinition,
  streaming: StreamingServiceDefinition,
};

// ---- server ------------------------------------------------------------------------

const echoHandlers: EchoServiceHandlers = {
  echo(request) {
    return { message: request.message, payload: request.payload };
  },
  async *count(request) {
    for (let n = 1; n <= request.count; n++) yield { n };
  },
  fail(request) {
    throw new Error(request.message);
  },
};

const benchHandlers: BenchServiceHandlers = {
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

/** Interceptors that only pass the call on: what the interceptor seam itself costs. */
const passThrough: Interceptor = (next) => (request) => next(request);
const serverPassThrough: ServerInterceptor = (next) => (request) => next(request);

/**
 * Serves one message set (small: the echo service; realistic and grpc: the bench
 * service), or the streaming service for the request-stream workloads: one listener
 * carries one envelope pair.
 */
async function serve(
  port: number,
  set: MessageSet,
  workload: WorkloadKind | undefined,
  intercepted: boolean,
  host = "127.0.0.1",
  defs: ProtosocketDefinitions = BOUND,
): Promise<BenchServer> {
  const server = createServer(intercepted ? { interceptors: [serverPassThrough] } : {});
  if (workload !== undefined && REQUEST_STREAM_WORKLOADS.includes(workload)) server.register(defs.streaming, streamingImpl as never);
  else if (set === "small") server.register(defs.echo, echoHandlers);
  else server.register(defs.bench, benchHandlers);
  const address = await server.listen({ host, port });
  return { port: address.port, close: () => server.close() };
}

/** Serves one message set with `defs` and no interceptors (the standard envelope's system). */
export function serveProtosocketWith(
  defs: ProtosocketDefinitions,
  port: number,
  set: MessageSet,
  workload?: WorkloadKind,
): Promise<BenchServer> {
  return serve(port, set, workload, false, "127.0.0.1", defs);
}

/** Serves one message set with no interceptors on host:port (the servers of the pool systems). */
export function serveProtosocketAt(host: string, port: number, set: MessageSet): Promise<BenchServer> {
  return serve(port, set, undefined, false, host);
}

/** Serves one message set with no interceptors (also the server of the rust-client system). */
export function serveProtosocket(port: number, set: MessageSet, workload?: WorkloadKind): Promise<BenchServer> {
  return serve(port, set, workload, false);
}

// ---- client ------------------------------------------------------------------------

class ProtosocketClient implements BenchClient {
  private next = 0;

  constructor(
    private readonly echoClients: EchoServiceClient[],
    private readonly benchClients: BenchServiceClient[],
    private readonly streamingClients: StreamingClient[],
    private readonly transports: Transport[],
  ) {}

  private pick<T>(clients: T[]): T {
    const client = clients[this.next] as T;
    this.next = (this.next + 1) % clients.length;
    return client;
  }

  async unary(set: MessageSet, payload: Uint8Array): Promise<number> {
    if (set === "small") {
      const response = await this.pick(this.echoClients).echo({ message: ECHO_MESSAGE, payload });
      return response.payload.length;
    }
    if (set === "realistic") {
      const response = await this.pick(this.benchClients).placeOrder(ORDER);
      if (response.id !== ORDER.id || response.status !== ORDER_PLACED) throw new Error("PlaceOrder answered another order");
      return response.tags.length;
    }
    const response = await this.pick(this.benchClients).unaryCall({
      responseType: 0,
      responseSize: payload.length,
      payload: { type: 0, body: payload },
    });
    return response.payload?.body.length ?? -1;
  }

  async stream(set: MessageSet, count: number): Promise<number> {
    let received = 0;
    let items: AsyncIterable<unknown>;
    if (set === "small") items = this.pick(this.echoClients).count({ count });
    else if (set === "realistic") items = this.pick(this.benchClients).listOrders({ count });
    else items = this.pick(this.benchClients).streamingFromServer({ request: { responseSize: GRPC_PAYLOAD_BYTES }, count });
    for await (const _ of items) received++;
    return received;
  }

  upload(stop: () => boolean): Promise<number> {
    return protosocketUpload(this.streamingClients[0]!, stop);
  }

  async openChat(): Promise<BenchChat> {
    return protosocketOpenChat(this.streamingClients[0]!);
  }

  async close(): Promise<void> {
    for (const transport of this.transports) transport.close();
  }
}

/** A bench client over `transports` (calls spread round-robin); creating clients on them builds nothing. */
export function clientOver(transports: Transport[], defs: ProtosocketDefinitions = BOUND): BenchClient {
  return new ProtosocketClient(
    transports.map((t) => createClient(defs.echo, t)),
    transports.map((t) => createClient(defs.bench, t)),
    transports.map((t) => createClient(defs.streaming, t) as unknown as StreamingClient),
    transports,
  );
}

/** Opens `connectionCount` connections of our client, calling `defs`. */
export function connectWith(connectionCount: number, intercepted: boolean, defs: ProtosocketDefinitions = BOUND) {
  return async (options: ConnectOptions): Promise<BenchClient> => {
    const transports = await Promise.all(
      Array.from({ length: connectionCount }, () =>
        connect({ host: options.host, port: options.port, ...(intercepted ? { interceptors: [passThrough] } : {}) }),
      ),
    );
    return clientOver(transports, defs);
  };
}

/** Opens `connectionCount` connections of our client with no interceptors (also the client of the rust-server system). */
export function connectProtosocket(connectionCount: number): (options: ConnectOptions) => Promise<BenchClient> {
  return connectWith(connectionCount, false);
}

/** Always available: the bench builds against the runtime. */
export async function protosocketAvailable(): Promise<string | undefined> {
  return undefined;
}

export const protosocket: System = {
  name: "protosocket",
  description: "protosocket-ts (@protosocket/runtime), one connection",
  server: "protosocket",
  requestStreams: true,
  serve: (port, set, workload) => serve(port, set, workload, false),
  connect: connectWith(1, false),
};

export const protosocket4conn: System = {
  name: "protosocket-4conn",
  description: "protosocket-ts (@protosocket/runtime), four connections, calls spread round-robin",
  server: "protosocket",
  unsupported: {
    stream: "one stream uses one connection: see protosocket",
    "connect-rate": "see protosocket",
  },
  serve: (port, set) => serve(port, set, undefined, false),
  connect: connectWith(4, false),
};

export const protosocketIntercepted: System = {
  name: "protosocket-intercepted",
  description: "protosocket-ts, one connection, one pass-through interceptor on the client and one on the server",
  server: "protosocket-intercepted",
  unsupported: {
    "connect-rate": "see protosocket",
  },
  requestStreams: true,
  serve: (port, set, workload) => serve(port, set, workload, true),
  connect: connectWith(1, true),
};
