// The seam between the conformance scenarios and what carries their calls. A
// factory starts a server with the services a registration function adds
// and hands out client transports to it: over TCP in this process
// (tcpFactory), or to a server another process (another runtime) already
// runs (remoteFactory), in memory (memoryFactory), or through a pool
// (poolFactory). Another transport is one more factory.
import {
  type ConnectOptions,
  connect,
  createMemoryTransport,
  createServer,
  type Server,
  type ServerOptions,
  type Transport,
} from "@protosocket/runtime";

/** Client options a scenario may ask for (everything but where to connect). */
export type ClientOptions = Omit<ConnectOptions, "host" | "port">;

/** A started server and the way to reach it. */
export interface ConformanceTarget {
  /** A client transport to the server, opened by start(); closed by stop(). */
  readonly transport: Transport;
  /** Opens another client transport (closed by stop() too), with `options`. */
  connect(options?: ClientOptions): Promise<Transport>;
  /** Closes every transport opened here, then the server, if this factory started it. */
  stop(): Promise<void>;
}

/** Starts servers for the scenarios. */
export interface ConformanceFactory {
  /** Shown in reports ("tcp", "remote 127.0.0.1:7000"). */
  readonly name: string;
  /** Starts a server with `options` and the services `register` adds. */
  start(register: (server: Server) => void, options: ServerOptions): Promise<ConformanceTarget>;
}

/** The transports a target opened, so that stop() closes them all. */
class Transports {
  private readonly open: Transport[] = [];

  /**
   * @param host the server's address.
   * @param port its port.
   * @param pooled when set, each transport is a pool of this many connections to the server.
   */
  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly pooled?: number,
  ) {}

  async connect(options: ClientOptions = {}): Promise<Transport> {
    const transport =
      this.pooled === undefined
        ? await connect({ ...options, host: this.host, port: this.port })
        : await connect(`${this.host}:${this.port}`, { ...options, connectionsPerAddress: this.pooled });
    this.open.push(transport);
    return transport;
  }

  /** A target whose stop() closes these transports, then calls `stopServer`. */
  async target(stopServer: () => Promise<void>): Promise<ConformanceTarget> {
    return {
      transport: await this.connect(),
      connect: (options) => this.connect(options),
      stop: async () => {
        for (const transport of this.open.splice(0)) transport.close();
        await stopServer();
      },
    };
  }
}

/** A server in this process on 127.0.0.1, and clients over TCP. */
export const tcpFactory: ConformanceFactory = {
  name: "tcp",
  async start(register, options) {
    const server = createServer(options);
    register(server);
    const { host, port } = await server.listen({ host: "127.0.0.1", port: 0 });
    return new Transports(host, port).target(() => server.close({ graceMs: 0 }));
  },
};

/**
 * A server in this process on 127.0.0.1, and clients through pools of two
 * connections to it (`connect("host:port", …)`): a pool is a Transport like
 * any other, so every scenario holds through one.
 */
export const poolFactory: ConformanceFactory = {
  name: "pool",
  async start(register, options) {
    const server = createServer(options);
    register(server);
    const { host, port } = await server.listen({ host: "127.0.0.1", port: 0 });
    return new Transports(host, port, 2).target(() => server.close({ graceMs: 0 }));
  },
};

/**
 * A server another process runs (started with the same registration and
 * options, see run.ts --serve): start() only connects to it.
 */
export function remoteFactory(host: string, port: number, pooled?: number): ConformanceFactory {
  return {
    name: `remote ${host}:${port}${pooled === undefined ? "" : `, pools of ${pooled} connections`}`,
    start: () => new Transports(host, port, pooled).target(async () => {}),
  };
}

/**
 * A server in this process and clients through createMemoryTransport: the
 * same codecs, dispatch and limits with no socket. Client options that
 * concern sockets (host, TLS, keepalive) do not apply.
 */
export const memoryFactory: ConformanceFactory = {
  name: "memory",
  async start(register, options) {
    const server = createServer(options);
    register(server);
    const open: Transport[] = [];
    const connectMemory = async (clientOptions: ClientOptions = {}): Promise<Transport> => {
      const transport = createMemoryTransport(server, {
        ...(clientOptions.maxFrameBytes !== undefined ? { maxFrameBytes: clientOptions.maxFrameBytes } : {}),
        ...(clientOptions.streamBufferMessages !== undefined ? { streamBufferMessages: clientOptions.streamBufferMessages } : {}),
        ...(clientOptions.interceptors !== undefined ? { interceptors: clientOptions.interceptors } : {}),
      });
      open.push(transport);
      return transport;
    };
    return {
      transport: await connectMemory(),
      connect: connectMemory,
      stop: async () => {
        for (const transport of open.splice(0)) transport.close();
        await server.close({ graceMs: 0 });
      },
    };
  },
};
