// Apache Thrift for Node (npm `thrift`): framed transport, binary protocol, raw TCP, with
// the code Debian's thrift-compiler generates from bench/thrift/echo.thrift (committed in
// bench/thrift/gen, CommonJS). Thrift has no server streaming, so this system does not
// run the `stream` workload.
//
// One connection carries many calls at once: the generated client numbers each call
// (seqid) and the connection routes each reply to its callback by seqid; the server
// handles every frame as it arrives. test/thrift-multiplex.test.ts proves it.

import { createRequire } from "node:module";
import { once } from "node:events";
import thrift from "thrift";
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
export interface ThriftEchoClient {
  Echo(request: ThriftEchoRequest): Promise<ThriftEchoResponse>;
}
export interface ThriftEchoHandler {
  Echo(request: ThriftEchoRequest, result: (error: Error | null, response?: ThriftEchoResponse) => void): void;
  Count(request: { count: number }, result: (error: Error | null, response?: { n: number }[]) => void): void;
  Fail(request: { code: number; message: string }, result: (error: unknown, response?: object) => void): void;
}
interface Generated {
  EchoService: { Client: new (...args: never[]) => ThriftEchoClient; Processor: unknown };
  types: {
    EchoRequest: new (init: ThriftEchoRequest) => ThriftEchoRequest;
    EchoResponse: new (init: ThriftEchoResponse) => ThriftEchoResponse;
    CountResponse: new (init: { n: number }) => { n: number };
    EchoError: new (init: { code: number; message: string }) => object;
  };
}

// Both src/systems and dist/systems sit two levels under bench/.
export const generated: Generated = {
  EchoService: require("../../thrift/gen/EchoService.js") as Generated["EchoService"],
  types: require("../../thrift/gen/echo_types.js") as Generated["types"],
};

const OPTIONS = { transport: thrift.TFramedTransport, protocol: thrift.TBinaryProtocol };

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
};

/** Starts a Thrift server with these handlers on 127.0.0.1:port. */
export async function serveThrift(port: number, handler: ThriftEchoHandler = thriftHandler): Promise<BenchServer> {
  // The generic types of @types/thrift do not fit generated code; the runtime takes these.
  const server = thrift.createServer(generated.EchoService as never, handler as never, OPTIONS);
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
export async function connectThrift(options: ConnectOptions): Promise<{ connection: thrift.Connection; client: ThriftEchoClient }> {
  const connection = thrift.createConnection(options.host, options.port, OPTIONS);
  const failed = new Promise<never>((_, reject) => connection.once("error", reject));
  await Promise.race([once(connection, "connect"), failed]);
  const client = thrift.createClient(generated.EchoService.Client as never, connection) as ThriftEchoClient;
  return { connection, client };
}

class ThriftClient implements BenchClient {
  constructor(
    private readonly connection: thrift.Connection,
    private readonly client: ThriftEchoClient,
  ) {}

  async unary(payload: Uint8Array): Promise<number> {
    const buffer = Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    const response = await this.client.Echo(new generated.types.EchoRequest({ message: ECHO_MESSAGE, payload: buffer }));
    return response.payload.length;
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
