import { isIP } from "node:net";
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { SocketLink } from "../conn/socket-link.js";
import { formatAddress, type ClientTlsOptions } from "../conn/socket-options.js";
import { Code, RpcError } from "../errors.js";
import { startTimeout } from "../util/long-timeout.js";
import { checkMetadataLimits, type MetadataLimits } from "../metadata.js";
import { checkNumber, invalidOption } from "../util/validate.js";
import { checkMaxFrameBytes } from "../wire/limits.js";
import { ClientConnection } from "./client-connection.js";
import { checkStreamBufferMessages, type ConnectionSettingsOptions } from "./connect-options.js";
import { checkInterceptors, type Interceptor } from "../call/interceptor.js";

/** Where one connection goes: a TCP host and port, or a unix socket path. */
export type DialAddress = { readonly host: string; readonly port: number } | { readonly path: string };

/** The checked options of a connection, shared by {@link connect} and pools. */
export interface DialSettings {
  readonly tls: ClientTlsOptions | undefined;
  readonly connectTimeoutMs: number;
  readonly maxFrameBytes: number;
  readonly streamBufferMessages: number;
  /** -1 for off. */
  readonly keepAliveMs: number;
  readonly interceptors: readonly Interceptor[];
  readonly metadataLimits: MetadataLimits;
}

/**
 * Checks the options every connection has (TLS, timeouts, limits,
 * interceptors).
 *
 * @throws RpcError `invalid_argument` naming the option.
 */
export function checkDialSettings(options: ConnectionSettingsOptions): DialSettings {
  const tls = options.tls;
  if (tls !== undefined && tls !== true && (tls === null || typeof tls !== "object"))
    throw invalidOption("tls", tls, "true or node:tls connect options");
  return {
    tls,
    connectTimeoutMs: checkNumber("connectTimeoutMs", options.connectTimeoutMs, 10_000, { min: 1, infinity: true }),
    maxFrameBytes: checkMaxFrameBytes(options.maxFrameBytes),
    streamBufferMessages: checkStreamBufferMessages(options.streamBufferMessages),
    keepAliveMs: checkNumber("keepAliveMs", options.keepAliveMs, -1, { min: 1, max: 2 ** 31 - 1 }),
    interceptors: checkInterceptors("interceptors", options.interceptors),
    metadataLimits: checkMetadataLimits(options),
  };
}

/** "host:port" of a TCP address, "unix:/path" of a socket path. */
export function formatDialAddress(address: DialAddress): string {
  return "path" in address ? `unix:${address.path}` : formatAddress(address.host, address.port);
}

/** Extra parts of a connection a pool opens. */
export interface DialExtras {
  /** TLS server name when the TLS options name none (a pool dials addresses it resolved from this name). */
  readonly servername?: string | undefined;
  /** Cancels connecting. */
  readonly signal?: AbortSignal | undefined;
  /** See {@link ClientConnectionOptions.onServerDraining}. */
  readonly onServerDraining?: (() => void) | undefined;
}

/**
 * Opens one connection with checked settings.
 *
 * @throws RpcError `unavailable`, `deadline_exceeded` or `cancelled`, as {@link connect}.
 */
export async function dial(address: DialAddress, settings: DialSettings, extras: DialExtras = {}): Promise<ClientConnection> {
  const peer = formatDialAddress(address);
  const socket = await openSocket(address, settings.tls, extras.servername, settings.connectTimeoutMs, extras.signal, peer);
  if (settings.keepAliveMs > 0) socket.setKeepAlive(true, settings.keepAliveMs);
  const link = new SocketLink(socket, { peer, maxFrameBytes: settings.maxFrameBytes });
  return new ClientConnection(link, {
    streamBufferMessages: settings.streamBufferMessages,
    interceptors: settings.interceptors,
    metadataLimits: settings.metadataLimits,
    ...(extras.onServerDraining !== undefined ? { onServerDraining: extras.onServerDraining } : {}),
  });
}

function openSocket(
  address: DialAddress,
  tls: ClientTlsOptions | undefined,
  servername: string | undefined,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  peer: string,
): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(new RpcError(Code.Cancelled, "connect cancelled", [], { peer, cause: signal.reason }));
      return;
    }
    const where = "path" in address ? { path: address.path } : { host: address.host, port: address.port };
    // The server name: the TLS options' own, else the name the address was resolved from, else a host that is not an IP.
    const name = servername ?? ("host" in address && isIP(address.host) === 0 ? address.host : undefined);
    const socket: Socket =
      tls === undefined
        ? netConnect(where)
        : tlsConnect({
            ...where,
            ...(tls === true ? {} : tls),
            ...(tls === true || tls.servername === undefined ? { servername: name } : {}),
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
      fail(
        new RpcError(Code.Unavailable, `cannot connect: ${err.code !== undefined ? `${err.code} ` : ""}${err.message}`, [], {
          peer,
          cause: err,
        }),
      );
    const onAbort = () => fail(new RpcError(Code.Cancelled, "connect cancelled", [], { peer, cause: signal?.reason }));
    const timer = startTimeout(
      () =>
        fail(new RpcError(Code.DeadlineExceeded, `cannot connect: no connection after ${timeoutMs} ms (connectTimeoutMs)`, [], { peer })),
      timeoutMs,
    );
    socket.once(readyEvent, onReady);
    socket.once("error", onError);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
