import { ClientConnection } from "../client/client-connection.js";
import { checkStreamBufferMessages, type ConnectionTransport } from "../client/connect-options.js";
import { checkInterceptors, type Interceptor } from "../call/interceptor.js";
import { createMemoryLinkPair } from "../conn/memory-link.js";
import type { Server } from "../server/server.js";
import { serverInternals } from "../server/server-internals.js";
import { checkMetadataLimits } from "../metadata.js";
import { checkObject } from "../util/validate.js";
import { checkMaxFrameBytes } from "../wire/limits.js";

/** Options of {@link createMemoryTransport}. */
export interface MemoryTransportOptions {
  /** Largest frame the client side sends or accepts, prefix included. Default 4 MiB. */
  maxFrameBytes?: number;
  /** Responses buffered for one stream before the client stops reading. Default 16,384. */
  streamBufferMessages?: number;
  /** Interceptors around every call, outermost first. */
  interceptors?: Interceptor[];
  /** Trailer entries one response frame may carry. Default 128. */
  maxMetadataEntries?: number;
  /** Bytes of trailers one response frame may carry. Default 16 KiB. */
  maxMetadataBytes?: number;
}

let nextClient = 1;

/**
 * A transport to `server` with no socket, for unit tests: every call goes
 * through the real envelope codecs, the server's dispatch, its interceptors
 * and its limits, over an in-memory link that behaves like a connection
 * (frames delivered in order on later turns of the event loop, frame limits
 * on both sides, backpressure). The server needs no listen(); close() on
 * either side closes the link. Handlers see the peer as "memory:N".
 *
 * @throws RpcError `invalid_argument` naming an option that is not valid.
 */
export function createMemoryTransport(server: Server, options: MemoryTransportOptions = {}): ConnectionTransport {
  checkObject("memory transport options", options);
  const maxFrameBytes = checkMaxFrameBytes(options.maxFrameBytes);
  const streamBufferMessages = checkStreamBufferMessages(options.streamBufferMessages);
  const interceptors = checkInterceptors("interceptors", options.interceptors);
  const metadataLimits = checkMetadataLimits(options);
  const serving = serverInternals(server);
  const framing = serving.framing();
  const [clientLink, serverLink] = createMemoryLinkPair(
    { name: `memory:${nextClient++}`, maxFrameBytes, framing },
    { name: "memory", maxFrameBytes: serving.maxFrameBytes, framing },
  );
  serving.serveLink(serverLink);
  return new ClientConnection(clientLink, { streamBufferMessages, interceptors, metadataLimits });
}
