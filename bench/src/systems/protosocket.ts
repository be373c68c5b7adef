// protosocket-ts, the system under test: `protosocket` (one connection) and
// `protosocket-4conn` (four connections, calls spread round-robin), through the
// public API of @protosocket/runtime and the generated EchoServiceDefinition
// (@protosocket/gen, from proto/echo/v1). `npm run bench` builds both first.
//
// The handlers are the same as every other system's: echo returns the request's message
// and payload; count yields { n } for n = 1..count (delay_ms and payload_size are 0 here).

import { EchoServiceDefinition, type EchoServiceClient, type EchoServiceHandlers } from "@protosocket/gen/echo/v1/echo_protosocket.js";
import { connect, createClient, createServer, type Interceptor, type ServerInterceptor, type Transport } from "@protosocket/runtime";
import { ECHO_MESSAGE, type BenchClient, type BenchServer, type ConnectOptions, type System } from "../system.js";

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

async function serve(port: number, intercepted = false): Promise<BenchServer> {
  const server = createServer(intercepted ? { interceptors: [serverPassThrough] } : {});
  server.register(EchoServiceDefinition, handlers);
  const address = await server.listen({ host: "127.0.0.1", port });
  return { port: address.port, close: () => server.close() };
}

// ---- client ------------------------------------------------------------------------

class ProtosocketClient implements BenchClient {
  private next = 0;

  constructor(
    private readonly clients: EchoServiceClient[],
    private readonly transports: Transport[],
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
    return new ProtosocketClient(
      transports.map((t) => createClient(EchoServiceDefinition, t)),
      transports,
    );
  };
}

export const protosocket: System = {
  name: "protosocket",
  description: "protosocket-ts (@protosocket/runtime), one connection",
  server: "protosocket",
  serve,
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
  serve,
  connect: connectWith(4),
};

export const protosocketIntercepted: System = {
  name: "protosocket-intercepted",
  description: "protosocket-ts, one connection, one pass-through interceptor on the client and one on the server",
  server: "protosocket-intercepted",
  unsupported: {
    "connect-rate": "see protosocket",
  },
  serve: (port) => serve(port, true),
  connect: connectWith(1, true),
};
