import { isIP } from "node:net";
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { SocketLink } from "../conn/socket-link.js";
import { formatAddress, type ClientTlsOptions } from "../conn/socket-options.js";
import { Code, RpcError } from "../errors.js";
import { startTimeout } from "../util/long-timeout.js";
import { checkNumber, checkObject, checkSignal, invalidOption } from "../util/validate.js";
import { DEFAULT_MAX_FRAME_BYTES } from "../wire/limits.js";
import { ClientConnection } from "./client-connection.js";
import { checkInterceptors, type Interceptor } from "./interceptor.js";
import type { Transport } from "./transport.js";

/** Options of {@link connect}. */
export interface ConnectOptions {
  /** Server host name or IP address. Default "127.0.0.1". */
  host?: string;
  /** Server port, 1 to 65535. */
  port: number;
  /** Connect with TLS (TLS 1.2 and 1.3; the Rust server speaks both). */
  tls?: ClientTlsOptions;
  /** Give up connecting (TCP and TLS handshake) after this long; `Infinity` waits as long as the OS does. Default 10,000 ms. */
  connectTimeoutMs?: number;
  /** Largest frame sent or accepted, prefix included, at least 16 bytes. Default 4 MiB. */
  maxFrameBytes?: number;
  /**
   * Responses buffered for one stream that its reader has not taken yet,
   * above which the connection stops reading until the reader catches up.
   * Default 16,384.
   */
  streamBufferMessages?: number;
  /** Enables TCP keepalive with this initial delay (ms). Default: keepalive off. */
  keepAliveMs?: number;
  /** Interceptors around every call on this connection, outermost first. */
  interceptors?: Interceptor[];
  /** Cancels connecting. */
  signal?: AbortSignal;
}

/** One connection to a server, as {@link connect} returns it. */
export interface ConnectionTransport extends Transport {
  /** The server's address, "host:port". */
  readonly peer: string;
  /** Calls in flight. */
  readonly pendingCalls: number;
  /** True once the connection has closed; later calls fail with `unavailable`. */
  readonly isClosed: boolean;
}

/** The smallest frame limit that still carries an envelope with an id, a code and a small case. */
const MIN_FRAME_BYTES = 16;

/**
 * Opens one connection to a protosocket server: a {@link Transport} whose
 * calls are multiplexed by message id, thousands in flight at once. Every
 * client created on it must use the same envelope pair.
 *
 * @throws RpcError `invalid_argument` for bad options (naming the option),
 *   `unavailable` when the server cannot be reached, `deadline_exceeded`
 *   when `connectTimeoutMs` passes, `cancelled` when `signal` aborts.
 */
export async function connect(options: ConnectOptions): Promise<ConnectionTransport> {
  checkObject("connect options", options);
  if (options === undefined) throw invalidOption("connect options", options, "an object with at least a port");
  const host = options.host ?? "127.0.0.1";
  if (typeof host !== "string" || host.length === 0) throw invalidOption("host", options.host, "a host name or IP address");
  if (options.port === undefined) throw invalidOption("port", options.port, "a port from 1 to 65535");
  const port = checkNumber("port", options.port, 0, { min: 1, max: 65535 });
  const connectTimeoutMs = checkNumber("connectTimeoutMs", options.connectTimeoutMs, 10_000, { min: 1, infinity: true });
  const maxFrameBytes = checkNumber("maxFrameBytes", options.maxFrameBytes, DEFAULT_MAX_FRAME_BYTES, { min: MIN_FRAME_BYTES, max: 2 ** 32 });
  const streamBufferMessages = checkNumber("streamBufferMessages", options.streamBufferMessages, 16_384, { min: 1, max: 2 ** 30 });
  const keepAliveMs = checkNumber("keepAliveMs", options.keepAliveMs, -1, { min: 1, max: 2 ** 31 - 1 });
  const interceptors = checkInterceptors("interceptors", options.interceptors);
  const signal = checkSignal("signal", options.signal);
  const tls = options.tls;
  if (tls !== undefined && tls !== true && (tls === null || typeof tls !== "object")) throw invalidOption("tls", tls, "true or node:tls connect options");
  const peer = formatAddress(host, port);
  const socket = await openSocket(host, port, tls, connectTimeoutMs, signal, peer);
  if (keepAliveMs > 0) socket.setKeepAlive(true, keepAliveMs);
  const link = new SocketLink(socket, { peer, maxFrameBytes });
  return new ClientConnection(link, { streamBufferMessages, interceptors });
}

function openSocket(host: string, port: number, tls: ClientTlsOptions | undefined, timeoutMs: number, signal: AbortSignal | undefined, peer: string): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(new RpcError(Code.Cancelled, "connect cancelled", [], { peer, cause: signal.reason }));
      return;
    }
    const socket: Socket =
      tls === undefined
        ? netConnect({ host, port })
        : tlsConnect({
            host,
            port,
            ...(tls === true ? {} : tls),
            ...(tls === true || tls.servername === undefined ? { servername: isIP(host) === 0 ? host : undefined } : {}),
          } as never);
    const readyEvent = tls === undefined ? "connect" : "secureConnect";
    const cleanup = () => {
      timer.cancel();
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
    const timer = startTimeout(
      () => fail(new RpcError(Code.DeadlineExceeded, `cannot connect: no connection after ${timeoutMs} ms (connectTimeoutMs)`, [], { peer })),
      timeoutMs,
    );
    socket.once(readyEvent, onReady);
    socket.once("error", onError);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
