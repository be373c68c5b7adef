import { checkNumber } from "../util/validate.js";
import type { ClientTlsOptions } from "../conn/socket-options.js";
import type { Interceptor } from "../call/interceptor.js";
import type { Transport } from "../call/transport.js";

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
  /**
   * Trailer entries one response frame may carry; a call whose response
   * goes past it fails with `resource_exhausted` (the trailers are not
   * built). Default 128.
   */
  maxMetadataEntries?: number;
  /** Bytes of trailers one response frame may carry (keys, values and their framing); as `maxMetadataEntries`. Default 16 KiB. */
  maxMetadataBytes?: number;
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

/** What a connection's options share with a pool's: everything but where it goes. */
export type ConnectionSettingsOptions = Pick<
  ConnectOptions,
  | "tls"
  | "connectTimeoutMs"
  | "maxFrameBytes"
  | "streamBufferMessages"
  | "keepAliveMs"
  | "interceptors"
  | "maxMetadataEntries"
  | "maxMetadataBytes"
>;

/** Default responses buffered for one stream before a connection stops reading. */
const DEFAULT_STREAM_BUFFER_MESSAGES = 16_384;

/**
 * A `streamBufferMessages` option, checked where it enters: 1 to 2^30,
 * 16,384 when not given.
 *
 * @throws RpcError `invalid_argument` naming the option.
 */
export function checkStreamBufferMessages(value: unknown): number {
  return checkNumber("streamBufferMessages", value, DEFAULT_STREAM_BUFFER_MESSAGES, { min: 1, max: 2 ** 30 });
}
