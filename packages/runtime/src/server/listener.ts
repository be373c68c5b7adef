/**
 * The server's sockets: a `node:net` (or `node:tls`) listener, and the set
 * of connections it serves (accepted sockets and in-memory links) with
 * their limits and timeouts.
 */
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import type { FrameLink } from "../conn/frame-link.js";
import { SocketLink } from "../conn/socket-link.js";
import { formatAddress } from "../conn/socket-options.js";
import { Code, RpcError } from "../errors.js";
import { checkObject, invalidOption } from "../util/validate.js";
import type { ListenOptions, ServerAddress } from "./listen-options.js";
import { ServerConnection } from "./server-connection.js";
import type { ServerSettings } from "./server-options.js";
import type { ServingState } from "./serving-state.js";

/** How long a shut-down connection may take to write out its last frames before it is destroyed. */
export const SHUTDOWN_FLUSH_MS = 1000;

/** The connections a server serves. */
export class Connections {
  private readonly all = new Set<ServerConnection>();
  private emptyWaiters: (() => void)[] = [];
  private sweeper: ReturnType<typeof setInterval> | undefined;
  private refused = 0;
  private unixPeers = 0;

  /** @param settings the server's checked options. */
  constructor(private readonly settings: ServerSettings) {}

  /** Open connections. */
  get size(): number {
    return this.all.size;
  }

  /** Every open connection, as of now. */
  list(): ServerConnection[] {
    return [...this.all];
  }

  /** Serves `link` as one connection; undefined when it closed at once. */
  add(link: FrameLink, state: ServingState): ServerConnection | undefined {
    const conn = new ServerConnection(link, state, (c, error) => {
      this.all.delete(c);
      if (this.all.size === 0 && this.emptyWaiters.length > 0) {
        const w = this.emptyWaiters;
        this.emptyWaiters = [];
        for (const f of w) f();
      }
      if (error.code !== Code.Unavailable) this.settings.reportConnectionError(error, c.peer);
    });
    if (link.closed) return undefined;
    this.all.add(conn);
    return conn;
  }

  /**
   * Serves an accepted socket: refused past maxConnections; shut down at
   * once when the server is closing (a node:cluster primary may still hand a
   * worker a connection then), so its client knows nothing it sent ran.
   */
  accept(socket: Socket, state: ServingState, closing: boolean, unixPath: string | undefined): void {
    const settings = this.settings;
    // Unix socket peers have no address: name them by the socket and a number.
    const peer =
      socket.remoteAddress === undefined && unixPath !== undefined
        ? `unix:${unixPath}#${++this.unixPeers}`
        : formatAddress(socket.remoteAddress, socket.remotePort);
    const link = () => new SocketLink(socket, { peer, maxFrameBytes: settings.maxFrameBytes, framing: state.codecs.framing });
    if (closing) {
      this.add(link(), state)?.shutdown(new RpcError(Code.Unavailable, "server is shutting down"), SHUTDOWN_FLUSH_MS);
      return;
    }
    const max = settings.maxConnections;
    if (this.all.size >= max) {
      this.refused++;
      if (this.refused === 1 || this.refused % 1000 === 0) {
        settings.reportConnectionError(
          new RpcError(
            Code.ResourceExhausted,
            `connection refused: ${max} connections open (maxConnections); ${this.refused} refused so far`,
            [],
            {
              peer,
            },
          ),
          peer,
        );
      }
      socket.destroy();
      return;
    }
    if (settings.keepAliveMs > 0) socket.setKeepAlive(true, settings.keepAliveMs);
    this.add(link(), state);
  }

  /** Starts closing connections that break a timeout, a few times per shortest timeout. */
  startSweeper(): void {
    if (this.sweeper !== undefined) return;
    const { firstFrameTimeoutMs, frameTimeoutMs, idleTimeoutMs } = this.settings;
    const timeouts = [firstFrameTimeoutMs, frameTimeoutMs, idleTimeoutMs].filter((t) => t > 0 && Number.isFinite(t));
    if (timeouts.length === 0) return;
    const every = Math.min(1000, Math.max(10, Math.floor(Math.min(...timeouts) / 4)));
    this.sweeper = setInterval(() => this.sweep(), every);
    this.sweeper.unref();
  }

  /** Stops the timeouts' sweeper. */
  stopSweeper(): void {
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  /** Resolves once every connection (socket or in-memory) has closed. */
  whenEmpty(): Promise<void> {
    if (this.all.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.emptyWaiters.push(resolve));
  }

  /** Closes connections that broke a timeout. */
  private sweep(): void {
    const { firstFrameTimeoutMs, frameTimeoutMs, idleTimeoutMs } = this.settings;
    const now = Date.now();
    for (const c of this.all) {
      const partial = c.link.partialFrameSince;
      let why: string | undefined;
      if (frameTimeoutMs > 0 && partial !== undefined && now - partial > frameTimeoutMs) {
        why = `a frame stayed incomplete for more than ${frameTimeoutMs} ms (frameTimeoutMs)`;
      } else if (firstFrameTimeoutMs > 0 && c.awaitingFirstFrame && now - c.link.lastFrameAt > firstFrameTimeoutMs) {
        why = `no frame within ${firstFrameTimeoutMs} ms of connecting (firstFrameTimeoutMs)`;
      } else if (idleTimeoutMs > 0 && c.activeCalls === 0 && now - Math.max(c.link.lastFrameAt, c.lastCallEndedAt) > idleTimeoutMs) {
        why = `idle for more than ${idleTimeoutMs} ms (idleTimeoutMs)`;
      }
      if (why !== undefined) {
        // Reported through onClose → onConnectionError.
        c.close(new RpcError(Code.DeadlineExceeded, `connection closed: ${why}`, [], { peer: c.peer }));
      }
    }
  }
}

/**
 * Starts a listener (TCP, TLS, or a unix socket) that hands each accepted
 * socket to `accept`; resolves with it and its bound address.
 *
 * @throws RpcError `invalid_argument` naming a listen option that is not valid.
 */
export function startListener(
  options: ListenOptions,
  settings: ServerSettings,
  accept: (socket: Socket) => void,
): { listener: NetServer; bound: Promise<ServerAddress> } {
  checkObject("listen options", options);
  const path = options.path;
  if (path !== undefined && (typeof path !== "string" || path.length === 0)) throw invalidOption("path", path, "a socket path");
  const host = options.host ?? "127.0.0.1";
  const tls = options.tls;
  // Half-open: a client that sends its last request and shuts down its side still gets its answers.
  const listener: NetServer =
    tls === undefined
      ? createNetServer({ noDelay: true, allowHalfOpen: true }, accept)
      : createTlsServer({ handshakeTimeout: settings.tlsHandshakeTimeoutMs, allowHalfOpen: true, ...tls }, accept);
  if (tls !== undefined) {
    // A failed handshake concerns that client only.
    listener.on("tlsClientError", (err: Error, socket: TLSSocket) => {
      // node:tls keeps why it refused a client certificate apart from the error it reports.
      const rejected = socket.authorizationError;
      const why = rejected !== undefined && rejected !== null ? `client certificate rejected (${String(rejected)})` : err.message;
      settings.reportConnectionError(
        new RpcError(Code.Unavailable, `TLS handshake failed: ${why}`, [], { cause: err }),
        formatAddress(socket.remoteAddress, socket.remotePort),
      );
      socket.destroy();
    });
  }
  const bound = new Promise<ServerAddress>((resolve, reject) => {
    listener.once("error", reject);
    const where = path !== undefined ? { path } : { host, port: options.port ?? 0 };
    listener.listen({ ...where, backlog: options.backlog ?? 511 }, () => {
      listener.off("error", reject);
      const a = listener.address();
      resolve(
        path !== undefined
          ? { host: "unix", port: 0, path }
          : typeof a === "object" && a !== null
            ? { host: a.address, port: a.port }
            : { host, port: options.port ?? 0 },
      );
    });
  });
  return { listener, bound };
}
