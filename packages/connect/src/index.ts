/**
 * @protosocket/connect — connect-es over protosocket. Client code written
 * against connect-es clients calls protosocket servers through
 * {@link createProtosocketTransport}; connect-es service implementations
 * (and `routes` functions) are served by a protosocket server through
 * {@link registerConnect} and {@link registerConnectRoutes}; connect-es
 * interceptors work on both sides.
 *
 * ```ts
 * const eliza = createClient(ElizaService, createProtosocketTransport({ target: "127.0.0.1:7000" }));
 * registerConnect(server, ElizaService, impl);
 * ```
 */
export {
  createProtosocketTransport,
  routingKey,
  type ProtosocketTransport,
  type ProtosocketTransportOptions,
} from "./transport.js";
export { registerConnect, registerConnectRoutes, type RegisterConnectOptions } from "./register.js";
export { protosocketContext } from "./handler-context.js";
export { defineBound, type DefineFor } from "./definitions.js";
