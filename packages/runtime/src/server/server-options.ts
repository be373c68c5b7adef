import type { RpcError } from "../errors.js";
import { checkMetadataLimits, type MetadataLimits } from "../metadata.js";
import { checkBoolean, checkFunction, checkNumber, checkObject, invalidOption } from "../util/validate.js";
import { checkMaxFrameBytes } from "../wire/limits.js";
import { reportHandlerErrors, type ServerInterceptor } from "./interceptor.js";

/** Options of {@link createServer}. */
export interface ServerOptions {
  /** Largest frame accepted or sent, prefix included, at least 16 bytes. Default 4 MiB. */
  maxFrameBytes?: number;
  /**
   * Calls that may run at once on one connection; a request past it is
   * answered with `resource_exhausted` and not run. Default 16,384.
   */
  maxConcurrentCallsPerConnection?: number;
  /**
   * Calls that may run at once on the whole server, over every connection;
   * a request past it is answered with `resource_exhausted` and not run.
   * With the per-connection limit and `maxConnections` it bounds what a full
   * server holds (docs/decisions.md, "Bounded cost"). Default 100,000.
   */
  maxConcurrentCalls?: number;
  /**
   * Connections served at once; a connection past it is closed as soon as it
   * is accepted, and the others are not disturbed. Default 10,000.
   */
  maxConnections?: number;
  /**
   * A connection must deliver its first complete frame within this long
   * after it is accepted (after the TLS handshake), or it is closed. 0 turns
   * it off. Default 30,000 ms.
   */
  firstFrameTimeoutMs?: number;
  /**
   * A frame that has begun must be complete within this long, or the
   * connection is closed (a peer that trickles or stops mid-frame). 0 turns it
   * off. Default 30,000 ms.
   */
  frameTimeoutMs?: number;
  /**
   * A connection with no call running and no frame received for this long
   * is closed. 0 (the default) keeps idle connections open.
   */
  idleTimeoutMs?: number;
  /** TLS handshakes that take longer fail. Default 10,000 ms. */
  tlsHandshakeTimeoutMs?: number;
  /** Enables TCP keepalive on accepted sockets with this initial delay (ms), to find dead peers. Default: off. */
  keepAliveMs?: number;
  /**
   * Messages of one client- or bidi-streaming call received and not yet
   * read by its handler, above which the server stops reading that
   * connection (every call on it waits, as when a client does not read its
   * responses) until the handler has read down to half. A handler that reads
   * slowly thus slows its whole connection: give such calls a connection of
   * their own. Default 256.
   */
  requestStreamBufferMessages?: number;
  /**
   * A client- or bidi-streaming call whose handler has waited this long for
   * the client's next message (or End) fails with `deadline_exceeded`: a
   * client that stops sending without End holds no handler forever. Time the
   * server spends not reading the connection does not count. 0 (the
   * default) sets no limit; the client's `timeoutMs` still ends the call.
   */
  requestStreamIdleTimeoutMs?: number;
  /**
   * Metadata entries one request frame may carry; a request past it is
   * answered with `resource_exhausted` and not run (its metadata is not
   * built). Default 128.
   */
  maxMetadataEntries?: number;
  /**
   * Bytes of metadata one request frame may carry (keys, values and their
   * few bytes of framing on the wire); past it, as `maxMetadataEntries`.
   * Default 16 KiB.
   */
  maxMetadataBytes?: number;
  /** Interceptors around every handler, outermost first. */
  interceptors?: ServerInterceptor[];
  /**
   * Called when a call fails on the server: a handler (or an interceptor)
   * threw, or a response could not be sent. Installed as the outermost
   * interceptor ({@link reportHandlerErrors}); `cancelled` is not reported.
   */
  onHandlerError?(error: RpcError, method: string, peer: string): void;
  /** Called for a problem with a connection: a protocol violation or I/O error that closed it, or a frame it dropped. */
  onConnectionError?(error: RpcError, peer: string): void;
  /**
   * Send the message of an error a handler throws that is not an RpcError.
   * Default false: the client gets `unknown` with a generic message, since
   * such a message may hold internals (paths, queries, hosts); the real error
   * goes to `onHandlerError`. Throwing an RpcError always sends its message.
   */
  exposeErrorMessages?: boolean;
}

/** Default calls running at once on a whole server (see docs/decisions.md, "Bounded cost"). */
const DEFAULT_MAX_CONCURRENT_CALLS = 100_000;
/** Default unread messages per request stream before the connection pauses (see docs/decisions.md). */
const DEFAULT_REQUEST_STREAM_BUFFER = 256;

/** {@link ServerOptions}, checked, with their defaults. */
export interface ServerSettings {
  readonly maxFrameBytes: number;
  readonly maxConcurrentCalls: number;
  /** Calls running at once on the whole server. */
  readonly maxServerCalls: number;
  readonly maxConnections: number;
  readonly firstFrameTimeoutMs: number;
  readonly frameTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly tlsHandshakeTimeoutMs: number;
  /** -1 for off. */
  readonly keepAliveMs: number;
  readonly requestStreamBufferMessages: number;
  readonly requestStreamIdleTimeoutMs: number;
  readonly exposeErrorMessages: boolean;
  readonly metadataLimits: MetadataLimits;
  /** Every interceptor, outermost first: onHandlerError's reporter, then the user's. */
  readonly interceptors: readonly ServerInterceptor[];
  /** Reports a response the server could not send (never throws). */
  reportResponseError(error: RpcError, method: string, peer: string): void;
  /** Reports a problem with a connection (never throws). */
  reportConnectionError(error: RpcError, peer: string): void;
}

/**
 * Checks {@link ServerOptions} where they enter.
 *
 * @throws RpcError `invalid_argument` naming an option that is not valid.
 */
export function checkServerOptions(options: ServerOptions): ServerSettings {
  checkObject("server options", options);
  checkFunction("onHandlerError", options.onHandlerError);
  checkFunction("onConnectionError", options.onConnectionError);
  const userInterceptors = options.interceptors ?? [];
  if (!Array.isArray(userInterceptors) || userInterceptors.some((i) => typeof i !== "function")) {
    throw invalidOption("interceptors", userInterceptors, "an array of interceptor functions");
  }
  const { onHandlerError, onConnectionError } = options;
  return {
    maxFrameBytes: checkMaxFrameBytes(options.maxFrameBytes),
    maxConcurrentCalls: checkNumber("maxConcurrentCallsPerConnection", options.maxConcurrentCallsPerConnection, 16_384, { min: 1 }),
    maxServerCalls: checkNumber("maxConcurrentCalls", options.maxConcurrentCalls, DEFAULT_MAX_CONCURRENT_CALLS, { min: 1 }),
    maxConnections: checkNumber("maxConnections", options.maxConnections, 10_000, { min: 1 }),
    firstFrameTimeoutMs: checkNumber("firstFrameTimeoutMs", options.firstFrameTimeoutMs, 30_000, { infinity: true }),
    frameTimeoutMs: checkNumber("frameTimeoutMs", options.frameTimeoutMs, 30_000, { infinity: true }),
    idleTimeoutMs: checkNumber("idleTimeoutMs", options.idleTimeoutMs, 0, { infinity: true }),
    tlsHandshakeTimeoutMs: checkNumber("tlsHandshakeTimeoutMs", options.tlsHandshakeTimeoutMs, 10_000, { min: 1, max: 2 ** 31 - 1 }),
    keepAliveMs: checkNumber("keepAliveMs", options.keepAliveMs, -1, { min: 1, max: 2 ** 31 - 1 }),
    requestStreamBufferMessages: checkNumber(
      "requestStreamBufferMessages",
      options.requestStreamBufferMessages,
      DEFAULT_REQUEST_STREAM_BUFFER,
      {
        min: 1,
        max: 2 ** 30,
      },
    ),
    requestStreamIdleTimeoutMs: checkNumber("requestStreamIdleTimeoutMs", options.requestStreamIdleTimeoutMs, 0, { infinity: true }),
    exposeErrorMessages: checkBoolean("exposeErrorMessages", options.exposeErrorMessages) ?? false,
    metadataLimits: checkMetadataLimits(options),
    interceptors: onHandlerError !== undefined ? [reportHandlerErrors(onHandlerError), ...userInterceptors] : [...userInterceptors],
    reportResponseError(error, method, peer) {
      try {
        onHandlerError?.(error, method, peer);
      } catch {
        // A failing hook must not change the call's outcome.
      }
    },
    reportConnectionError(error, peer) {
      try {
        onConnectionError?.(error, peer);
      } catch {
        // A failing hook must not take the connection's neighbours down.
      }
    },
  };
}
