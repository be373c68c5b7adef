/**
 * What a server exposes to the runtime's own modules and to nothing else:
 * serving links that are not sockets (the in-memory transport), the services
 * registered so far (health checks bind to their envelopes), and the moment
 * shutdown begins. Kept out of server.ts so the application API's types do
 * not reach the link layer.
 */
import type { FrameLink } from "../conn/frame-link.js";
import type { AnyServiceDefinition } from "../encoding/service.js";
import type { Framing } from "../wire/framing.js";

/** The internals of one server. */
export interface ServerInternals {
  /** Serves `link` as one connection. */
  serveLink(link: FrameLink): void;
  /** The server's frame limit, prefix included. */
  readonly maxFrameBytes: number;
  /** How its connections frame: the encoding of its first service (varint before any is registered). */
  framing(): Framing;
  /** The services registered so far, in order. */
  definitions(): readonly AnyServiceDefinition[];
  /** Calls `listener` once, when close() begins. */
  onClosing(listener: () => void): void;
}

/** Keyed by the Server objects createServer() returns. */
const internals = new WeakMap<object, ServerInternals>();

/** Records the internals of `server` (createServer calls this). */
export function registerServerInternals(server: object, i: ServerInternals): void {
  internals.set(server, i);
}

/** The internals of `server`; throws for an object createServer() did not make. */
export function serverInternals(server: object): ServerInternals {
  const i = internals.get(server);
  if (i === undefined) throw new TypeError("not a server made by createServer()");
  return i;
}
