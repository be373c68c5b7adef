import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import { findRequestClash } from "../binding/resolve.js";
import type { FrameLink } from "../conn/frame-link.js";
import { SocketLink } from "../conn/socket-link.js";
import { formatAddress, type ServerTlsOptions } from "../conn/socket-options.js";
import type { WireTarget } from "../envelope/envelope-wire.js";
import { codecsOf, createEnvelopeCodecs, envelopeBindingClash } from "../envelope/service-codecs.js";
import { isEncoded, type AnyServiceDefinition } from "../service/rpc-service.js";
import { Code, RpcError } from "../errors.js";
import type { ServiceDefinition } from "../service/service-definition.js";
import { startTimeout } from "../util/long-timeout.js";
import { checkBoolean, checkFunction, checkNumber, checkObject, invalidOption } from "../util/validate.js";
import { varintFraming } from "../wire/framing.js";
import { DEFAULT_MAX_FRAME_BYTES } from "../wire/limits.js";
import type { MessagePackService } from "../messagepack/service.js";
import { checkMetadataLimits } from "../metadata.js";
import type { MessagePackHandlers, ServiceImpl } from "./handler-types.js";
import { chainServerInterceptors, reportHandlerErrors, type AnyHandler, type ServerInterceptor } from "./interceptor.js";
import type { ServedMethod } from "./served-method.js";
import { ServerConnection, type ServingState } from "./server-connection.js";
import { registerServerInternals } from "./server-internals.js";

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

/** The handlers of a service definition: `ServiceImpl` for protobuf, `MessagePackHandlers` for MessagePack. */
export type HandlersOf<D> =
  D extends ServiceDefinition<infer S> ? ServiceImpl<S> : D extends MessagePackService<infer M> ? MessagePackHandlers<M> : never;

/** Options of {@link Server.listen}. */
export interface ListenOptions {
  /** Interface to bind. Default "127.0.0.1". */
  host?: string;
  /** Port to bind; 0 picks a free one. Default 0. */
  port?: number;
  /** Listen on a unix domain socket at this path instead (host and port are then ignored). */
  path?: string;
  /** Serve TLS with these node:tls options (key and cert at least). */
  tls?: ServerTlsOptions;
  /** Listen backlog. Default 511. */
  backlog?: number;
}

/** Options of {@link Server.close}. */
export interface CloseOptions {
  /**
   * How long calls in flight may run on before they are cancelled (they
   * fail with `unavailable`); `Infinity` waits for them however long they
   * take. New calls are refused with `unavailable` from the moment close()
   * is called. Default 5,000 ms.
   */
  graceMs?: number;
}

/** Where a server listens. */
export interface ServerAddress {
  /** The bound host ("unix" on a unix socket). */
  readonly host: string;
  /** The bound port (0 on a unix socket). */
  readonly port: number;
  /** The socket's path, on a unix socket. */
  readonly path?: string;
}

/** A protosocket server: services registered on it, listening on one address. */
export interface Server {
  /**
   * Registers a service with a handler for every method: a protobuf
   * `ServiceDefinition` (generated) and its `ServiceImpl`, or a MessagePack
   * service and its `MessagePackHandlers` (interceptors do not apply to
   * MessagePack services yet).
   */
  register<D extends ServiceDefinition | MessagePackService>(def: D, impl: HandlersOf<D>): void;
  /** Registers a service whose missing handlers answer `unimplemented`. */
  registerPartial<D extends ServiceDefinition | MessagePackService>(def: D, impl: Partial<HandlersOf<D>>): void;
  /** Starts listening; resolves with the bound address (port 0 picks one). */
  listen(options?: ListenOptions): Promise<ServerAddress>;
  /** The bound address, once listening. */
  readonly address: ServerAddress | undefined;
  /** Open connections. */
  readonly connections: number;
  /**
   * Stops accepting, refuses new calls with `unavailable`, lets calls in
   * flight finish for up to `graceMs`, then fails the rest with
   * `unavailable` and closes every connection.
   */
  close(options?: CloseOptions): Promise<void>;
}

/** How long a shut-down connection may take to write out its last frames before it is destroyed. */
const SHUTDOWN_FLUSH_MS = 1000;
/** The smallest frame limit that still carries an envelope with an id, a code and a small case. */
const MIN_FRAME_BYTES = 16;
/** Default calls running at once on a whole server (see docs/decisions.md, "Bounded cost"). */
const DEFAULT_MAX_CONCURRENT_CALLS = 100_000;
/** Default unread messages per request stream before the connection pauses (see docs/decisions.md). */
const DEFAULT_REQUEST_STREAM_BUFFER = 256;

/**
 * Creates a {@link Server}.
 *
 * @throws RpcError `invalid_argument` naming an option that is not valid.
 */
export function createServer(options: ServerOptions = {}): Server {
  checkObject("server options", options);
  const maxFrameBytes = checkNumber("maxFrameBytes", options.maxFrameBytes, DEFAULT_MAX_FRAME_BYTES, {
    min: MIN_FRAME_BYTES,
    max: 2 ** 32,
  });
  const maxConcurrentCalls = checkNumber("maxConcurrentCallsPerConnection", options.maxConcurrentCallsPerConnection, 16_384, { min: 1 });
  const maxServerCalls = checkNumber("maxConcurrentCalls", options.maxConcurrentCalls, DEFAULT_MAX_CONCURRENT_CALLS, { min: 1 });
  const maxConnections = checkNumber("maxConnections", options.maxConnections, 10_000, { min: 1 });
  const firstFrameTimeoutMs = checkNumber("firstFrameTimeoutMs", options.firstFrameTimeoutMs, 30_000, { infinity: true });
  const frameTimeoutMs = checkNumber("frameTimeoutMs", options.frameTimeoutMs, 30_000, { infinity: true });
  const idleTimeoutMs = checkNumber("idleTimeoutMs", options.idleTimeoutMs, 0, { infinity: true });
  const tlsHandshakeTimeoutMs = checkNumber("tlsHandshakeTimeoutMs", options.tlsHandshakeTimeoutMs, 10_000, { min: 1, max: 2 ** 31 - 1 });
  const keepAliveMs = checkNumber("keepAliveMs", options.keepAliveMs, -1, { min: 1, max: 2 ** 31 - 1 });
  const requestStreamBufferMessages = checkNumber(
    "requestStreamBufferMessages",
    options.requestStreamBufferMessages,
    DEFAULT_REQUEST_STREAM_BUFFER,
    { min: 1, max: 2 ** 30 },
  );
  const requestStreamIdleTimeoutMs = checkNumber("requestStreamIdleTimeoutMs", options.requestStreamIdleTimeoutMs, 0, { infinity: true });
  const metadataLimits = checkMetadataLimits(options);
  checkFunction("onHandlerError", options.onHandlerError);
  const exposeErrorMessages = checkBoolean("exposeErrorMessages", options.exposeErrorMessages) ?? false;
  checkFunction("onConnectionError", options.onConnectionError);
  const userInterceptors = options.interceptors ?? [];
  if (!Array.isArray(userInterceptors) || userInterceptors.some((i) => typeof i !== "function")) {
    throw invalidOption("interceptors", userInterceptors, "an array of interceptor functions");
  }
  const onHandlerError = options.onHandlerError;
  const interceptors: ServerInterceptor[] =
    onHandlerError !== undefined ? [reportHandlerErrors(onHandlerError), ...userInterceptors] : [...userInterceptors];

  const registered: { def: AnyServiceDefinition; impl: Record<string, unknown>; partial: boolean }[] = [];
  let state: ServingState | undefined;
  let listener: NetServer | undefined;
  let address: ServerAddress | undefined;
  let closing: Promise<void> | undefined;
  const connections = new Set<ServerConnection>();
  let emptyWaiters: (() => void)[] = [];
  const closingListeners: (() => void)[] = [];
  let sweeper: ReturnType<typeof setInterval> | undefined;
  let refused = 0;
  let unixPeers = 0;

  const reportConnectionError = (error: RpcError, peer: string): void => {
    try {
      options.onConnectionError?.(error, peer);
    } catch {
      // A failing hook must not take the connection's neighbours down.
    }
  };

  /** Closes connections that broke a timeout; runs a few times per shortest timeout. */
  function sweep(): void {
    const now = Date.now();
    for (const c of connections) {
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

  function startSweeper(): void {
    if (sweeper !== undefined) return;
    const timeouts = [firstFrameTimeoutMs, frameTimeoutMs, idleTimeoutMs].filter((t) => t > 0 && Number.isFinite(t));
    if (timeouts.length === 0) return;
    const every = Math.min(1000, Math.max(10, Math.floor(Math.min(...timeouts) / 4)));
    sweeper = setInterval(sweep, every);
    sweeper.unref();
  }

  function register(def: AnyServiceDefinition, impl: Record<string, unknown>, partial: boolean): void {
    if (state !== undefined) throw new Error(`cannot register ${def.service.typeName}: the server is already serving`);
    if (impl === null || typeof impl !== "object")
      throw new TypeError(`${def.service.typeName}: the implementation must be an object of handlers`);
    const first = registered[0];
    if (registered.some((r) => r.def.service.typeName === def.service.typeName))
      throw new Error(`${def.service.typeName} is already registered`);
    if (first !== undefined) {
      const clash = envelopeBindingClash(first.def, def);
      if (clash !== undefined) throw new Error(clash);
    }
    if (isEncoded(def) && userInterceptors.length > 0) {
      throw new Error(
        `${def.service.typeName}: interceptors do not apply to ${def.encoding.name} services yet; serve it from a server without interceptors (onHandlerError works)`,
      );
    }
    // Handlers are looked up by the methods' local names, whatever the encoding.
    for (const mb of isEncoded(def) ? def.service.methods : def.binding.methods) {
      const handler = impl[mb.localName];
      if (handler === undefined && !partial) {
        throw new Error(
          `${def.service.typeName}: no handler for ${mb.name} (property "${mb.localName}"); implement it or use registerPartial`,
        );
      }
      if (handler !== undefined && typeof handler !== "function") {
        throw new Error(`${def.service.typeName}: handler for ${mb.name} is not a function`);
      }
    }
    // Other encodings check their own cases when their codecs are built.
    const clash = isEncoded(def)
      ? undefined
      : findRequestClash([...registered.flatMap((r) => (r.def as ServiceDefinition).binding.methods), ...def.binding.methods]);
    if (clash !== undefined) {
      throw new Error(
        `${def.service.typeName}: request case "${clash[1].request.path}" of ${clash[1].name} clashes with "${clash[0].request.path}" of ${clash[0].name}`,
      );
    }
    registered.push({ def, impl, partial });
  }

  /** Builds the codecs and routes of every registered service, once, when the server starts serving. */
  function serving(): ServingState {
    if (state !== undefined) return state;
    if (registered.length === 0) throw new Error("register a service before serving");
    const codecs = createEnvelopeCodecs(registered.map((r) => r.def));
    const routes = new Map<WireTarget, ServedMethod>();
    for (const codec of codecs.methods) {
      const r = registered.find((x) => x.def === codec.service) as (typeof registered)[number];
      const h = r.impl[codec.binding.localName] as AnyHandler | undefined;
      const handler = h === undefined ? undefined : (h.bind(r.impl) as AnyHandler);
      // Services of other encodings run without interceptors (register() refuses user interceptors for them); their failures go to onHandlerError directly.
      const encoded = isEncoded(codec.service);
      const chain =
        handler !== undefined && interceptors.length > 0 && !encoded ? chainServerInterceptors(interceptors, handler) : undefined;
      routes.set(codec.request, { codec, handler, chain, reportFailures: encoded && onHandlerError !== undefined });
    }
    state = {
      codecs,
      routes,
      maxConcurrentCalls,
      serverCalls: { running: 0, max: maxServerCalls },
      maxFrameBytes,
      exposeErrorMessages,
      requestStreamBufferMessages,
      requestStreamIdleTimeoutMs,
      metadataLimits,
      reportResponseError(error, method, peer) {
        try {
          onHandlerError?.(error, method, peer);
        } catch {
          // A failing hook must not change the call's outcome.
        }
      },
      reportConnectionError,
    };
    return state;
  }

  function addConnection(link: FrameLink): ServerConnection | undefined {
    const conn = new ServerConnection(link, serving(), (c, error) => {
      connections.delete(c);
      if (connections.size === 0 && emptyWaiters.length > 0) {
        const w = emptyWaiters;
        emptyWaiters = [];
        for (const f of w) f();
      }
      if (error.code !== Code.Unavailable) reportConnectionError(error, c.peer);
    });
    if (link.closed) return undefined;
    connections.add(conn);
    return conn;
  }

  /** Resolves once every connection (socket or in-memory) has closed. */
  function whenNoConnections(): Promise<void> {
    if (connections.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => emptyWaiters.push(resolve));
  }

  function accept(socket: Socket): void {
    // Unix socket peers have no address: name them by the socket and a number.
    const peer =
      socket.remoteAddress === undefined && address?.path !== undefined
        ? `unix:${address.path}#${++unixPeers}`
        : formatAddress(socket.remoteAddress, socket.remotePort);
    if (state === undefined) {
      socket.destroy();
      return;
    }
    if (closing !== undefined) {
      // Accepted after close() began (a node:cluster primary may still hand this worker a connection):
      // shut it down at once, so its client knows that nothing it sent here ran.
      addConnection(new SocketLink(socket, { peer, maxFrameBytes, framing: state.codecs.framing }))?.shutdown(
        new RpcError(Code.Unavailable, "server is shutting down"),
        SHUTDOWN_FLUSH_MS,
      );
      return;
    }
    if (connections.size >= maxConnections) {
      refused++;
      if (refused === 1 || refused % 1000 === 0) {
        reportConnectionError(
          new RpcError(
            Code.ResourceExhausted,
            `connection refused: ${maxConnections} connections open (maxConnections); ${refused} refused so far`,
            [],
            { peer },
          ),
          peer,
        );
      }
      socket.destroy();
      return;
    }
    if (keepAliveMs > 0) socket.setKeepAlive(true, keepAliveMs);
    addConnection(new SocketLink(socket, { peer, maxFrameBytes, framing: state.codecs.framing }));
  }

  const server: Server = {
    register(def: AnyServiceDefinition, impl: object) {
      register(def, impl as Record<string, unknown>, false);
    },
    registerPartial(def: AnyServiceDefinition, impl: object) {
      register(def, impl as Record<string, unknown>, true);
    },
    get address() {
      return address;
    },
    get connections() {
      return connections.size;
    },
    listen(listenOptions = {}) {
      if (listener !== undefined) return Promise.reject(new Error("the server is already listening"));
      if (closing !== undefined) return Promise.reject(new Error("the server is closed"));
      try {
        checkObject("listen options", listenOptions);
        serving();
      } catch (e) {
        return Promise.reject(e);
      }
      const host = listenOptions.host ?? "127.0.0.1";
      const tls = listenOptions.tls;
      // Half-open: a client that sends its last request and shuts down its side still gets its answers.
      const srv: NetServer =
        tls === undefined
          ? createNetServer({ noDelay: true, allowHalfOpen: true }, accept)
          : createTlsServer({ handshakeTimeout: tlsHandshakeTimeoutMs, allowHalfOpen: true, ...tls }, accept);
      if (tls !== undefined) {
        // A failed handshake concerns that client only.
        srv.on("tlsClientError", (err: Error, socket: TLSSocket) => {
          // node:tls keeps why it refused a client certificate apart from the error it reports.
          const rejected = socket.authorizationError;
          const why = rejected !== undefined && rejected !== null ? `client certificate rejected (${String(rejected)})` : err.message;
          reportConnectionError(
            new RpcError(Code.Unavailable, `TLS handshake failed: ${why}`, [], { cause: err }),
            formatAddress(socket.remoteAddress, socket.remotePort),
          );
          socket.destroy();
        });
      }
      listener = srv;
      const path = listenOptions.path;
      if (path !== undefined && (typeof path !== "string" || path.length === 0))
        return Promise.reject(invalidOption("path", path, "a socket path"));
      return new Promise<ServerAddress>((resolve, reject) => {
        srv.once("error", reject);
        const where = path !== undefined ? { path } : { host, port: listenOptions.port ?? 0 };
        srv.listen({ ...where, backlog: listenOptions.backlog ?? 511 }, () => {
          srv.off("error", reject);
          const a = srv.address();
          address =
            path !== undefined
              ? { host: "unix", port: 0, path }
              : typeof a === "object" && a !== null
                ? { host: a.address, port: a.port }
                : { host, port: listenOptions.port ?? 0 };
          startSweeper();
          resolve(address);
        });
      });
    },
    close(closeOptions = {}) {
      if (closing !== undefined) return closing;
      let graceMs: number;
      try {
        checkObject("close options", closeOptions);
        graceMs = checkNumber("graceMs", closeOptions.graceMs, 5_000, { infinity: true });
      } catch (e) {
        return Promise.reject(e);
      }
      for (const listener of closingListeners.splice(0)) {
        try {
          listener();
        } catch {
          // A failing listener must not stop the shutdown.
        }
      }
      closing = (async () => {
        const closed = listener !== undefined ? new Promise<void>((r) => listener?.close(() => r())) : Promise.resolve();
        const conns = [...connections];
        let grace: { cancel(): void } | undefined;
        await Promise.race([Promise.all(conns.map((c) => c.drain())), new Promise<void>((r) => (grace = startTimeout(r, graceMs)))]);
        grace?.cancel();
        if (sweeper !== undefined) clearInterval(sweeper);
        const shutdown = new RpcError(
          Code.Unavailable,
          `server shut down; the call did not finish within the grace period of ${graceMs} ms`,
        );
        // Each connection writes out what is queued, then closes; one whose client does not read is destroyed after SHUTDOWN_FLUSH_MS.
        for (const c of connections) c.shutdown(shutdown, SHUTDOWN_FLUSH_MS);
        await closed;
        await whenNoConnections();
      })();
      return closing;
    },
  };
  registerServerInternals(server, {
    maxFrameBytes,
    framing: () => {
      const first = registered[0];
      return first === undefined ? varintFraming : codecsOf(first.def).framing;
    },
    definitions: () => registered.map((r) => r.def),
    onClosing(listener) {
      closingListeners.push(listener);
    },
    serveLink(link) {
      if (closing !== undefined) {
        link.start({ onFrame() {}, onProtocolError() {}, onPeerEnd() {}, onClose() {} });
        link.close(new RpcError(Code.Unavailable, "server is shut down"));
        return;
      }
      addConnection(link);
    },
  });
  return server;
}
