import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { createConnection, type Connection } from "../conn/connection.js";
import { formatAddress, type ClientTlsOptions } from "../conn/socket-options.js";
import { Code, RpcError } from "../errors.js";
import { DEFAULT_MAX_FRAME_BYTES } from "../wire/limits.js";
import { createCallRegistry, type CallRegistry } from "./call-registry.js";

/** Options of {@link connect}. */
export interface ConnectOptions {
  /** Server host. Default "127.0.0.1". */
  host?: string;
  /** Server port. */
  port: number;
  /** Connect with TLS (TLS 1.2 and 1.3; the Rust server speaks both). */
  tls?: ClientTlsOptions;
  /** Give up connecting (TCP and TLS handshake) after this long. Default 10,000 ms. */
  connectTimeoutMs?: number;
  /** Largest frame sent or accepted, prefix included. Default 4 MiB. */
  maxFrameBytes?: number;
  /**
   * Responses buffered for one stream that its consumer has not taken yet,
   * above which the connection stops reading until the consumer catches up.
   * Default 16,384.
   */
  streamBufferMessages?: number;
  /** Enables TCP keepalive with this initial delay (ms). Default: keepalive off. */
  keepAliveMs?: number;
  /** Cancels connecting. */
  signal?: AbortSignal;
}

/**
 * One connection to a protosocket server, shared by every client created
 * on it (they must use the same envelope pair). Calls are multiplexed by
 * message id; thousands may be in flight at once.
 */
export interface Transport {
  /** The server's address, "host:port". */
  readonly peer: string;
  /** True once the connection has closed; every later call fails with `unavailable`. */
  readonly closed: boolean;
  /** Calls in flight. */
  readonly pendingCalls: number;
  /** Resolves with the reason when the connection closes. */
  readonly closedReason: Promise<RpcError>;
  /** Closes the connection: calls in flight fail with `cancelled`. */
  close(): void;
  /** @private Internal: the call registry clients use. */
  readonly registry: CallRegistry;
}

/**
 * Opens a connection to a protosocket server.
 *
 * @throws RpcError `unavailable` when the server cannot be reached,
 *   `deadline_exceeded` when `connectTimeoutMs` passes, `cancelled` when
 *   `signal` aborts.
 */
export async function connect(options: ConnectOptions): Promise<Transport> {
  const host = options.host ?? "127.0.0.1";
  const port = options.port;
  const peer = formatAddress(host, port);
  const timeoutMs = options.connectTimeoutMs ?? 10_000;
  const socket = await openSocket(host, port, options, timeoutMs, peer);
  if (options.keepAliveMs !== undefined) {
    socket.setKeepAlive(true, options.keepAliveMs);
  }
  let resolveClosed!: (e: RpcError) => void;
  const closedReason = new Promise<RpcError>((r) => (resolveClosed = r));
  // The registry and the connection refer to each other; the registry is created first.
  let conn: Connection | undefined;
  const registry = createCallRegistry({
    peer,
    streamBufferMessages: options.streamBufferMessages ?? 16_384,
    connection: () => conn as Connection,
  });
  conn = createConnection({
    socket,
    peer,
    maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
    onFrame: registry.onFrame,
    onClose(error) {
      registry.failAll(error);
      resolveClosed(error);
    },
  });
  const c = conn;
  return {
    peer,
    registry,
    closedReason,
    get closed() {
      return c.closed;
    },
    get pendingCalls() {
      return registry.size;
    },
    close() {
      c.close(new RpcError(Code.Cancelled, "transport closed by the client", [], { peer }));
    },
  };
}

function openSocket(host: string, port: number, options: ConnectOptions, timeoutMs: number, peer: string): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const signal = options.signal;
    if (signal?.aborted) {
      reject(new RpcError(Code.Cancelled, "connect cancelled", [], { peer, cause: signal.reason }));
      return;
    }
    const tls = options.tls;
    const socket: Socket =
      tls === undefined
        ? netConnect({ host, port })
        : tlsConnect({ host, port, ...(tls === true ? {} : tls), ...(tls === true || tls.servername === undefined ? { servername: isIp(host) ? undefined : host } : {}) } as never);
    const readyEvent = tls === undefined ? "connect" : "secureConnect";
    const cleanup = () => {
      clearTimeout(timer);
      socket.off(readyEvent, onReady);
      socket.off("error", onError);
      signal?.removeEventListener("abort", onAbort);
    };
    const fail = (e: RpcError) => {
      cleanup();
      socket.destroy();
      reject(e);
    };
    const onReady = () => {
      cleanup();
      resolve(socket);
    };
    const onError = (err: NodeJS.ErrnoException) =>
      fail(new RpcError(Code.Unavailable, `cannot connect: ${err.code !== undefined ? `${err.code} ` : ""}${err.message}`, [], { peer, cause: err }));
    const onAbort = () => fail(new RpcError(Code.Cancelled, "connect cancelled", [], { peer, cause: signal?.reason }));
    const timer = setTimeout(
      () => fail(new RpcError(Code.DeadlineExceeded, `cannot connect: no connection after ${timeoutMs} ms (connectTimeoutMs)`, [], { peer })),
      timeoutMs,
    );
    socket.once(readyEvent, onReady);
    socket.once("error", onError);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(":");
}
