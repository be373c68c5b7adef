import type { DescService } from "@bufbuild/protobuf";
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import { findRequestClash } from "../binding/resolve.js";
import { formatAddress, type ServerTlsOptions } from "../conn/socket-options.js";
import { Code, RpcError } from "../errors.js";
import type { ServiceDefinition } from "../service/service-definition.js";
import { DEFAULT_MAX_FRAME_BYTES } from "../wire/limits.js";
import { createServerEnvelopes, type ServerEnvelopes, type ServerMethod } from "./dispatch.js";
import type { ServiceImpl } from "./handler-types.js";
import { createServerConnection, type ServerConnection } from "./server-connection.js";

/** Options of {@link createServer}. */
export interface ServerOptions {
  /** Largest frame accepted or sent, prefix included. Default 4 MiB. */
  maxFrameBytes?: number;
  /**
   * Calls that may run at once on one connection; a request past it is
   * answered with `resource_exhausted` and not run. Default 16,384.
   */
  maxConcurrentCallsPerConnection?: number;
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
  /** Called when a handler fails (thrown error or invalid response), for logging. */
  onHandlerError?(error: RpcError, method: string, peer: string): void;
  /** Called when a connection closes with a protocol violation or an I/O error. */
  onConnectionError?(error: RpcError, peer: string): void;
}

/** Options of {@link Server.listen}. */
export interface ListenOptions {
  /** Interface to bind. Default "127.0.0.1". */
  host?: string;
  /** Port to bind; 0 picks a free one. Default 0. */
  port?: number;
  /** Serve TLS with these node:tls options (key and cert at least). */
  tls?: ServerTlsOptions;
  /** Listen backlog. Default 511. */
  backlog?: number;
}

/** Options of {@link Server.close}. */
export interface CloseOptions {
  /**
   * How long calls in flight may run on before they are cancelled (they
   * fail with `unavailable`). Default 5,000 ms.
   */
  graceMs?: number;
}

/** Where a server listens. */
export interface ServerAddress {
  /** The bound host. */
  readonly host: string;
  /** The bound port. */
  readonly port: number;
}

/** A protosocket server: services registered on it, listening on one address. */
export interface Server {
  /** Registers a service with a handler for every method. */
  register<S extends DescService>(def: ServiceDefinition<S>, impl: ServiceImpl<S>): void;
  /** Registers a service whose missing handlers answer `unimplemented`. */
  registerPartial<S extends DescService>(def: ServiceDefinition<S>, impl: Partial<ServiceImpl<S>>): void;
  /** Starts listening; resolves with the bound address (port 0 picks one). */
  listen(options?: ListenOptions): Promise<ServerAddress>;
  /** The bound address, once listening. */
  readonly address: ServerAddress | undefined;
  /** Open connections. */
  readonly connections: number;
  /**
   * Stops accepting, lets calls in flight finish for up to `graceMs`, then
   * fails the rest with `unavailable` and closes every connection.
   */
  close(options?: CloseOptions): Promise<void>;
}

/** How long close() lets connections write out their last frames before destroying them. */
const SHUTDOWN_FLUSH_MS = 1000;

/** Creates a {@link Server}. */
export function createServer(options: ServerOptions = {}): Server {
  const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const maxConcurrentCalls = options.maxConcurrentCallsPerConnection ?? 16_384;
  const methods: ServerMethod[] = [];
  const services = new Set<string>();
  // The envelope pair, fixed by the first service registered; the codecs are built at listen().
  let envelopeDef: ServiceDefinition | undefined;
  let envelopes: ServerEnvelopes | undefined;
  let listener: NetServer | undefined;
  let address: ServerAddress | undefined;
  let closing: Promise<void> | undefined;
  const connections = new Set<ServerConnection>();
  const maxConnections = options.maxConnections ?? 10_000;
  const firstFrameTimeoutMs = options.firstFrameTimeoutMs ?? 30_000;
  const frameTimeoutMs = options.frameTimeoutMs ?? 30_000;
  const idleTimeoutMs = options.idleTimeoutMs ?? 0;
  let sweeper: NodeJS.Timeout | undefined;
  let refused = 0;

  /** Closes connections that broke a timeout; runs a few times per shortest timeout. */
  function sweep(): void {
    const now = Date.now();
    for (const c of connections) {
      const partial = c.partialFrameSince;
      let why: string | undefined;
      if (frameTimeoutMs > 0 && partial !== undefined && now - partial > frameTimeoutMs) {
        why = `a frame stayed incomplete for more than ${frameTimeoutMs} ms (frameTimeoutMs)`;
      } else if (firstFrameTimeoutMs > 0 && c.awaitingFirstFrame && now - c.lastFrameAt > firstFrameTimeoutMs) {
        why = `no frame within ${firstFrameTimeoutMs} ms of connecting (firstFrameTimeoutMs)`;
      } else if (idleTimeoutMs > 0 && c.activeCalls === 0 && now - Math.max(c.lastFrameAt, c.lastCallEndedAt) > idleTimeoutMs) {
        why = `idle for more than ${idleTimeoutMs} ms (idleTimeoutMs)`;
      }
      if (why !== undefined) {
        // Reported through onClose → onConnectionError.
        c.close(new RpcError(Code.DeadlineExceeded, `connection closed: ${why}`, [], { peer: c.peer }));
      }
    }
  }

  function startSweeper(): void {
    const timeouts = [firstFrameTimeoutMs, frameTimeoutMs, idleTimeoutMs].filter((t) => t > 0);
    if (timeouts.length === 0) return;
    const every = Math.min(1000, Math.max(10, Math.floor(Math.min(...timeouts) / 4)));
    sweeper = setInterval(sweep, every);
    sweeper.unref();
  }

  function register(def: ServiceDefinition, impl: Record<string, unknown>, partial: boolean): void {
    if (listener !== undefined) throw new Error(`cannot register ${def.service.typeName}: the server is already listening`);
    if (services.has(def.service.typeName)) throw new Error(`${def.service.typeName} is already registered`);
    const { binding } = def;
    if (envelopeDef === undefined) {
      envelopeDef = def;
    } else if (!sameEnvelopeFields(envelopeDef, def)) {
      throw new Error(
        `${def.service.typeName} reads the message id and control code of ${def.requestEnvelope.typeName}/${def.responseEnvelope.typeName} from other fields (or has another error case) than ${envelopeDef.service.typeName}; services sharing envelopes must bind them alike`,
      );
    } else if (envelopeDef.requestEnvelope.typeName !== def.requestEnvelope.typeName || envelopeDef.responseEnvelope.typeName !== def.responseEnvelope.typeName) {
      throw new Error(
        `${def.service.typeName} uses envelopes ${def.requestEnvelope.typeName}/${def.responseEnvelope.typeName}, but this server already serves ${envelopeDef.requestEnvelope.typeName}/${envelopeDef.responseEnvelope.typeName}; one listener serves one envelope pair`,
      );
    }
    const added: ServerMethod[] = [];
    for (const mb of binding.methods) {
      const desc = def.service.methods.find((m) => m.name === mb.name);
      if (desc === undefined) throw new Error(`method ${mb.name} is not in ${def.service.typeName}`);
      const handler = impl[mb.localName];
      if (handler === undefined && !partial) {
        throw new Error(`${def.service.typeName}: no handler for ${mb.name} (property "${mb.localName}"); implement it or use registerPartial`);
      }
      if (handler !== undefined && typeof handler !== "function") {
        throw new Error(`${def.service.typeName}: handler for ${mb.name} is not a function`);
      }
      added.push(
        {
          binding: mb,
          fullName: `${def.service.typeName}/${mb.name}`,
          desc,
          output: desc.output,
          handler: handler === undefined ? undefined : (handler as NonNullable<ServerMethod["handler"]>).bind(impl),
        },
      );
    }
    const clash = findRequestClash([...methods, ...added].map((m) => m.binding));
    if (clash !== undefined) {
      throw new Error(`${def.service.typeName}: request case "${clash[1].request.path}" of ${clash[1].name} clashes with "${clash[0].request.path}" of ${clash[0].name}`);
    }
    for (const m of added) {
      methods.push(m);
    }
    services.add(def.service.typeName);
  }

  function accept(socket: Socket): void {
    const peer = formatAddress(socket.remoteAddress, socket.remotePort);
    if (closing !== undefined || envelopes === undefined) {
      socket.destroy();
      return;
    }
    if (connections.size >= maxConnections) {
      refused++;
      if (refused === 1 || refused % 1000 === 0) {
        options.onConnectionError?.(
          new RpcError(Code.ResourceExhausted, `connection refused: ${maxConnections} connections open (maxConnections); ${refused} refused so far`, [], { peer }),
          peer,
        );
      }
      socket.destroy();
      return;
    }
    if (options.keepAliveMs !== undefined) socket.setKeepAlive(true, options.keepAliveMs);
    const conn = createServerConnection({
      socket,
      peer,
      envelopes,
      maxFrameBytes,
      maxConcurrentCalls,
      onClose(c, error) {
        connections.delete(c);
        if (error.code !== Code.Unavailable) options.onConnectionError?.(error, peer);
      },
      ...(options.onHandlerError !== undefined ? { onHandlerError: options.onHandlerError } : {}),
    });
    connections.add(conn);
  }

  return {
    register(def, impl) {
      register(def as ServiceDefinition, impl as Record<string, unknown>, false);
    },
    registerPartial(def, impl) {
      register(def as ServiceDefinition, impl as Record<string, unknown>, true);
    },
    get address() {
      return address;
    },
    get connections() {
      return connections.size;
    },
    listen(listenOptions = {}) {
      if (listener !== undefined) return Promise.reject(new Error("the server is already listening"));
      if (envelopeDef === undefined) return Promise.reject(new Error("register a service before listening"));
      envelopes = createServerEnvelopes(envelopeDef, methods);
      const host = listenOptions.host ?? "127.0.0.1";
      const tls = listenOptions.tls;
      const srv: NetServer =
        tls === undefined
          ? createNetServer({ noDelay: true }, accept)
          : createTlsServer({ handshakeTimeout: options.tlsHandshakeTimeoutMs ?? 10_000, ...tls }, accept);
      if (tls !== undefined) {
        // A failed handshake concerns that client only.
        srv.on("tlsClientError", (err: Error, socket: TLSSocket) => {
          // node:tls keeps why it refused a client certificate apart from the error it reports.
          const rejected = socket.authorizationError;
          const why = rejected !== undefined && rejected !== null ? `client certificate rejected (${String(rejected)})` : err.message;
          options.onConnectionError?.(new RpcError(Code.Unavailable, `TLS handshake failed: ${why}`, [], { cause: err }), formatAddress(socket.remoteAddress, socket.remotePort));
          socket.destroy();
        });
      }
      listener = srv;
      return new Promise<ServerAddress>((resolve, reject) => {
        srv.once("error", reject);
        srv.listen({ host, port: listenOptions.port ?? 0, backlog: listenOptions.backlog ?? 511 }, () => {
          srv.off("error", reject);
          const a = srv.address();
          address = typeof a === "object" && a !== null ? { host: a.address, port: a.port } : { host, port: listenOptions.port ?? 0 };
          startSweeper();
          resolve(address);
        });
      });
    },
    close(closeOptions = {}) {
      if (closing !== undefined) return closing;
      const graceMs = closeOptions.graceMs ?? 5_000;
      closing = (async () => {
        const closed = listener !== undefined ? new Promise<void>((r) => listener?.close(() => r())) : Promise.resolve();
        const conns = [...connections];
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          Promise.all(conns.map((c) => c.drain())),
          new Promise<void>((r) => (timer = setTimeout(r, graceMs))),
        ]);
        clearTimeout(timer);
        if (sweeper !== undefined) clearInterval(sweeper);
        const shutdown = new RpcError(Code.Unavailable, `server shut down; the call did not finish within the grace period of ${graceMs} ms`);
        for (const c of connections) c.shutdown(shutdown);
        // shutdown() writes out what is queued first; a client that does not
        // read would hold the connection (and close()) forever.
        const force = setTimeout(() => {
          for (const c of connections) c.close(shutdown);
        }, SHUTDOWN_FLUSH_MS);
        await closed;
        clearTimeout(force);
      })();
      return closing;
    },
  };
}

/** True when two definitions bind the same envelopes with the same id, code and error fields. */
function sameEnvelopeFields(a: ServiceDefinition, b: ServiceDefinition): boolean {
  if (a.requestEnvelope.typeName !== b.requestEnvelope.typeName || a.responseEnvelope.typeName !== b.responseEnvelope.typeName) {
    return true; // a different pair: reported by the caller
  }
  const ra = a.binding.request;
  const rb = b.binding.request;
  const sa = a.binding.response;
  const sb = b.binding.response;
  return (
    ra.id.number === rb.id.number &&
    ra.code.number === rb.code.number &&
    sa.id.number === sb.id.number &&
    sa.code.number === sb.code.number &&
    sa.error?.path === sb.error?.path
  );
}
