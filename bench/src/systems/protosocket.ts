// protosocket-ts, the system under test: `protosocket` (one connection) and
// `protosocket-4conn` (four connections, calls spread round-robin), through the
// public API of @protosocket/runtime and the generated EchoServiceDefinition
// (@protosocket/gen, from proto/echo/v1). `npm run bench` builds both first.
//
// The handlers are the same as every other system's: echo returns the request's message
// and payload; count yields { n } for n = 1..count (delay_ms and payload_size are 0 here).

import { EchoServiceDefinition, type EchoServiceClient, type EchoServiceHandlers } from "@protosocket/gen/echo/v1/echo_protosocket.js";
import { StreamingServiceDefinition } from "@protosocket/gen/streaming/v1/streaming_protosocket.js";
import { connect, createClient, createServer, type Interceptor, type ServerInterceptor, type Transport } from "@protosocket/runtime";
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
import { protosocketOpenChat, protosocketUpload, streamingImpl, type StreamingClient } from "./protosocket-streams.js";

// ---- server ------------------------------------------------------------------------

const handlers: EchoServiceHandlers = {
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

/** Interceptors that only pass the call on: what the interceptor seam itself costs. */
const passThrough: Interceptor = (next) => (request) => next(request);
const serverPassThrough: ServerInterceptor = (next) => (request) => next(request);

async function serve(port: number, intercepted = false, workload?: WorkloadKind): Promise<BenchServer> {
  const server = createServer(intercepted ? { interceptors: [serverPassThrough] } : {});
  // One listener carries one envelope pair: the request-stream workloads get a server of the streaming service.
  if (workload !== undefined && REQUEST_STREAM_WORKLOADS.includes(workload))
    server.register(StreamingServiceDefinition, streamingImpl as never);
  else server.register(EchoServiceDefinition, handlers);
  const address = await server.listen({ host: "127.0.0.1", port });
  return { port: address.port, close: () => server.close() };
}

// ---- client ------------------------------------------------------------------------

class ProtosocketClient implements BenchClient {
  private next = 0;

  constructor(
    private readonly clients: EchoServiceClient[],
    private readonly transports: Transport[],
    private readonly streamingClients: StreamingClient[],
  ) {}

  private pick(): EchoServiceClient {
    const client = this.clients[this.next]!;
    this.next = (this.next + 1) % this.clients.length;
    return client;
  }

  async unary(payload: Uint8Array): Promise<number> {
    const response = await this.pick().echo({ message: ECHO_MESSAGE, payload });
    return response.payload.length;
  }

  async stream(count: number): Promise<number> {
    let received = 0;
    for await (const _ of this.pick().count({ count })) received++;
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

function connectWith(connectionCount: number, intercepted = false) {
  return async (options: ConnectOptions): Promise<BenchClient> => {
    const transports = await Promise.all(
      Array.from({ length: connectionCount }, () =>
        connect({ host: options.host, port: options.port, ...(intercepted ? { interceptors: [passThrough] } : {}) }),
      ),
    );
    // Creating a client builds nothing; a connection takes the envelopes of the first service it calls.
    return new ProtosocketClient(
      transports.map((t) => createClient(EchoServiceDefinition, t)),
      transports,
      transports.map((t) => createClient(StreamingServiceDefinition, t) as unknown as StreamingClient),
    );
  };
}

export const protosocket: System = {
  name: "protosocket",
  description: "protosocket-ts (@protosocket/runtime), one connection",
  server: "protosocket",
  requestStreams: true,
  serve: (port, workload) => serve(port, false, workload),
  connect: connectWith(1),
};

export const protosocket4conn: System = {
  name: "protosocket-4conn",
  description: "protosocket-ts (@protosocket/runtime), four connections, calls spread round-robin",
  server: "protosocket",
  unsupported: {
    stream: "one stream uses one connection: see protosocket",
    "connect-rate": "see protosocket",
  },
  serve: (port) => serve(port),
  connect: connectWith(4),
};

export const protosocketIntercepted: System = {
  name: "protosocket-intercepted",
  description: "protosocket-ts, one connection, one pass-through interceptor on the client and one on the server",
  server: "protosocket-intercepted",
  unsupported: {
    "connect-rate": "see protosocket",
  },
  requestStreams: true,
  serve: (port, workload) => serve(port, true, workload),
  connect: connectWith(1, true),
};
