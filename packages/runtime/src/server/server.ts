import type { Server as NetServer } from "node:net";
import type { AnyServiceDefinition } from "../encoding/service.js";
import { Code, RpcError } from "../errors.js";
import type { MessagePackService } from "../messagepack/service.js";
import type { ServiceDefinition } from "../protobuf/service-definition.js";
import { startTimeout } from "../util/long-timeout.js";
import { checkNumber, checkObject } from "../util/validate.js";
import type { MessagePackHandlers, ServiceImpl } from "./handler-types.js";
import type { ListenOptions, ServerAddress } from "./listen-options.js";
import { Connections, SHUTDOWN_FLUSH_MS, startListener } from "./listener.js";
import { checkServerOptions, type ServerOptions } from "./server-options.js";
import { registerServerInternals } from "./server-internals.js";
import type { ServingState } from "./serving-state.js";
import { ServiceRegistry } from "./service-registry.js";
import { withSideServices } from "./side-services.js";

export type { ListenOptions, ServerAddress } from "./listen-options.js";
export type { ServerOptions } from "./server-options.js";

/** The handlers of a service definition: `ServiceImpl` for protobuf, `MessagePackHandlers` for MessagePack. */
export type HandlersOf<D> =
  D extends ServiceDefinition<infer S> ? ServiceImpl<S> : D extends MessagePackService<infer M> ? MessagePackHandlers<M> : never;

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

/**
 * Creates a {@link Server}: its options (server-options.ts), the services
 * registered on it (service-registry.ts), and its listener and connections
 * (listener.ts).
 *
 * @throws RpcError `invalid_argument` naming an option that is not valid.
 */
export function createServer(options: ServerOptions = {}): Server {
  const settings = checkServerOptions(options);
  const registry = new ServiceRegistry();
  const connections = new Connections(settings);
  const closingListeners: (() => void)[] = [];
  let state: ServingState | undefined;
  let listener: NetServer | undefined;
  let address: ServerAddress | undefined;
  let closing: Promise<void> | undefined;

  /** What every connection shares, built once, when the server starts serving. */
  function serving(): ServingState {
    if (state !== undefined) return state;
    const { codecs, routes } = registry.serve(settings.interceptors);
    state = withSideServices(
      server,
      { ...settings, codecs, routes, serverCalls: { running: 0, max: settings.maxServerCalls } },
      settings.interceptors,
    );
    return state;
  }

  async function shutDown(graceMs: number): Promise<void> {
    const closed = listener !== undefined ? new Promise<void>((r) => listener?.close(() => r())) : Promise.resolve();
    let grace: { cancel(): void } | undefined;
    await Promise.race([
      Promise.all(connections.list().map((c) => c.drain())),
      new Promise<void>((r) => (grace = startTimeout(r, graceMs))),
    ]);
    grace?.cancel();
    connections.stopSweeper();
    const shutdown = new RpcError(Code.Unavailable, `server shut down; the call did not finish within the grace period of ${graceMs} ms`);
    // Each connection writes out what is queued, then closes; one whose client does not read is destroyed after SHUTDOWN_FLUSH_MS.
    for (const c of connections.list()) c.shutdown(shutdown, SHUTDOWN_FLUSH_MS);
    await closed;
    await connections.whenEmpty();
  }

  const server: Server = {
    register(def: AnyServiceDefinition, impl: object) {
      registry.register(def, impl as Record<string, unknown>, false);
    },
    registerPartial(def: AnyServiceDefinition, impl: object) {
      registry.register(def, impl as Record<string, unknown>, true);
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
      let started: ReturnType<typeof startListener>;
      try {
        const serveState = serving();
        started = startListener(listenOptions, settings, (socket) =>
          connections.accept(socket, serveState, closing !== undefined, address?.path),
        );
      } catch (e) {
        return Promise.reject(e);
      }
      listener = started.listener;
      return started.bound.then((bound) => {
        address = bound;
        connections.startSweeper();
        return bound;
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
      closing = shutDown(graceMs);
      return closing;
    },
  };
  registerServerInternals(server, {
    maxFrameBytes: settings.maxFrameBytes,
    framing: () => registry.framing,
    definitions: () => registry.definitions,
    onClosing(listener) {
      closingListeners.push(listener);
    },
    serveLink(link) {
      if (closing !== undefined) {
        link.start({ onFrame() {}, onProtocolError() {}, onPeerEnd() {}, onClose() {} });
        link.close(new RpcError(Code.Unavailable, "server is shut down"));
        return;
      }
      connections.add(link, serving());
    },
  });
  return server;
}
