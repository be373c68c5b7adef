/**
 * How a server serves links that are not sockets (the in-memory transport):
 * kept out of server.ts so the application API's types do not reach the
 * link layer.
 */
import type { FrameLink } from "../conn/frame-link.js";

/** What a server exposes to the in-memory transport. */
export interface LinkServing {
  /** Serves `link` as one connection. */
  serveLink(link: FrameLink): void;
  /** The server's frame limit, prefix included. */
  readonly maxFrameBytes: number;
}

/** Keyed by the Server objects createServer() returns. */
const serving = new WeakMap<object, LinkServing>();

/** Records how `server` serves links (createServer calls this). */
export function registerLinkServing(server: object, s: LinkServing): void {
  serving.set(server, s);
}

/** How `server` serves links; throws for an object createServer() did not make. */
export function linkServingOf(server: object): LinkServing {
  const s = serving.get(server);
  if (s === undefined) throw new TypeError("not a server made by createServer()");
  return s;
}
