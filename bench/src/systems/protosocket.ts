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
//       echo.v1.EchoService bound to its envelopes at run time from the protobuf-es
//       descriptors in src/gen. protoc-gen-protosocket's EchoServiceDefinition carries the
//       same binding compiled in; to use it, add the plugin to bench/buf.gen.yaml and
//       import it here statically (the per-call path is the same: createClient / register).
//   createServer(): Server
//       server.register(definition, impl)   impl = { echo, count, fail } (every method required)
//       server.listen({ host, port })       resolves with { port } (port 0 = any free port)
//       server.close()
//   connect({ host, port }): Promise<Transport>
//       one TCP connection; transport.close()
//   createClient(definition, transport): { echo(init): Promise<EchoResponse>;
//                                          count(init): AsyncIterable<CountResponse> }
//
// The handlers are the same as every other system's: echo returns the request's message
// and payload; count yields { n } for n = 1..count (delay_ms and payload_size are 0 here).

import { createRegistry, type DescService, type Registry } from "@bufbuild/protobuf";
import { file_protosocket_v1_status } from "../gen/protosocket/v1/status_pb.js";
import { EchoService, file_echo_v1_echo, type CountResponse, type EchoRequest, type EchoResponse } from "../gen/echo/v1/echo_pb.js";
import { file_streaming_v1_streaming, StreamingService } from "../gen/streaming/v1/streaming_pb.js";
import { ECHO_MESSAGE, REQUEST_STREAM_WORKLOADS, type BenchChat, type BenchClient, type BenchServer, type ConnectOptions, type System, type WorkloadKind } from "../system.js";
import { protosocketOpenChat, protosocketUpload, streamingImpl, type StreamingClient, type StreamingImpl } from "./protosocket-streams.js";

// ---- the shapes this file relies on ------------------------------------------------

type ServiceDefinition = object;

interface EchoImpl {
  echo(request: EchoRequest): { message: string; payload: Uint8Array };
  count(request: { count: number }): AsyncIterable<{ n: number }>;
  fail(request: { code: number; message: string }): never;
}

interface RuntimeServer {
  register(definition: ServiceDefinition, impl: EchoImpl | StreamingImpl): void;
  listen(options: { host: string; port: number }): Promise<{ port: number }>;
  close(): Promise<void>;
}

interface RuntimeConnection {
  close(): void | Promise<void>;
}

interface EchoClient {
  echo(request: { message: string; payload: Uint8Array }): Promise<EchoResponse>;
  count(request: { count: number }): AsyncIterable<CountResponse>;
}

/** An interceptor that only passes the call on (both sides have the same shape). */
type PassThrough = (next: (request: unknown) => Promise<unknown>) => (request: unknown) => Promise<unknown>;
const passThrough: PassThrough = (next) => (request) => next(request);

interface Runtime {
  serviceFromRegistry(service: DescService, registry: Registry): ServiceDefinition;
  createServer(options?: { interceptors?: PassThrough[] }): RuntimeServer;
  connect(options: { host: string; port: number; interceptors?: PassThrough[] }): Promise<RuntimeConnection>;
  createClient(definition: ServiceDefinition, connection: RuntimeConnection): EchoClient;
}

/** createClient for the streaming service (client-stream and bidi-pingpong workloads; see protosocket-streams.ts). */
type CreateStreamingClient = (definition: ServiceDefinition, connection: RuntimeConnection) => StreamingClient;

const EXPECTED_EXPORTS = ["serviceFromRegistry", "createServer", "connect", "createClient"] as const;

// ---- loading -----------------------------------------------------------------------

// A variable specifier keeps tsc from resolving the package, so the bench builds while the
// runtime does not exist yet. When wiring in, replace with `import * as runtime from "@protosocket/runtime"`.
const RUNTIME_SPECIFIER: string = "@protosocket/runtime";

interface Loaded {
  runtime: Runtime;
  definition: ServiceDefinition;
  /** streaming.v1.StreamingService, for the client-stream and bidi-pingpong workloads. */
  streaming: ServiceDefinition;
}

let loaded: Promise<Loaded | string> | undefined;

function load(): Promise<Loaded | string> {
  loaded ??= (async () => {
    let module: Record<string, unknown>;
    try {
      // serviceFromRegistry lives on the runtime's protocol entry point (tools and generated code).
      const [app, protocol] = (await Promise.all([import(RUNTIME_SPECIFIER), import(`${RUNTIME_SPECIFIER}/protocol`)])) as Record<string, unknown>[];
      module = { ...app, ...protocol };
    } catch (error) {
      return `not yet available: ${RUNTIME_SPECIFIER} cannot be imported (${(error as Error).message.split("\n")[0]})`;
    }
    const missing = EXPECTED_EXPORTS.filter((name) => typeof module[name] !== "function");
    if (missing.length > 0) {
      return `not yet available: ${RUNTIME_SPECIFIER} has no ${missing.join(", ")} (see bench/src/systems/protosocket.ts)`;
    }
    const runtime = module as unknown as Runtime;
    const definition = runtime.serviceFromRegistry(EchoService, createRegistry(file_echo_v1_echo, file_protosocket_v1_status));
    const streaming = runtime.serviceFromRegistry(StreamingService, createRegistry(file_streaming_v1_streaming, file_protosocket_v1_status));
    return { runtime, definition, streaming };
  })();
  return loaded;
}

async function required(): Promise<Loaded> {
  const result = await load();
  if (typeof result === "string") throw new Error(result);
  return result;
}

// ---- server ------------------------------------------------------------------------

const impl: EchoImpl = {
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

async function serve(port: number, intercepted = false, workload?: WorkloadKind): Promise<BenchServer> {
  const { runtime, definition, streaming } = await required();
  const server = runtime.createServer(intercepted ? { interceptors: [passThrough] } : {});
  // One listener carries one envelope pair: the streaming workloads get a server of the streaming service.
  if (workload !== undefined && REQUEST_STREAM_WORKLOADS.includes(workload)) server.register(streaming, streamingImpl);
  else server.register(definition, impl);
  const address = await server.listen({ host: "127.0.0.1", port });
  return { port: address.port, close: () => server.close() };
}

// ---- client ------------------------------------------------------------------------

class ProtosocketClient implements BenchClient {
  private next = 0;

  constructor(
    private readonly clients: EchoClient[],
    private readonly connections: RuntimeConnection[],
    private readonly streamingClients: StreamingClient[],
  ) {}

  private pick(): EchoClient {
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
    await Promise.all(this.connections.map(async (c) => c.close()));
  }
}

function connectWith(connectionCount: number, intercepted = false) {
  return async (options: ConnectOptions): Promise<BenchClient> => {
    const { runtime, definition, streaming } = await required();
    const connections = await Promise.all(
      Array.from({ length: connectionCount }, () =>
        runtime.connect({ host: options.host, port: options.port, ...(intercepted ? { interceptors: [passThrough] } : {}) }),
      ),
    );
    // Creating a client builds nothing; a connection takes the envelopes of the first service it calls.
    const createStreamingClient = runtime.createClient as unknown as CreateStreamingClient;
    return new ProtosocketClient(
      connections.map((c) => runtime.createClient(definition, c)),
      connections,
      connections.map((c) => createStreamingClient(streaming, c)),
    );
  };
}

async function available(): Promise<string | undefined> {
  const result = await load();
  return typeof result === "string" ? result : undefined;
}

export const protosocket: System = {
  name: "protosocket",
  description: "protosocket-ts (@protosocket/runtime), one connection",
  server: "protosocket",
  requestStreams: true,
  available,
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
  available,
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
  available,
  serve: (port, workload) => serve(port, true, workload),
  connect: connectWith(1, true),
};
