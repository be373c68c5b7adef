/**
 * @protosocket/runtime — protobuf RPC over plain TCP and TLS, wire-compatible
 * with the Rust protosocket-rpc crate. This entry point is the application
 * API: connecting, calling, serving, intercepting, pools, health checks and
 * errors. Option types nested in these are reached through them
 * (`PoolOptions["retry"]`); what generated code and tools need is in
 * `@protosocket/runtime/protocol`, MessagePack services in
 * `@protosocket/runtime/messagepack`.
 */

// Calling.
export { createClient } from "./client/create-client.js";
export type { Client } from "./client/client-types.js";
export type { CallOptions } from "./call/call-options.js";
export type { Transport } from "./call/transport.js";
export type { ConnectOptions, ConnectionTransport } from "./client/connect-options.js";
export { neverRan } from "./client/never-ran.js";
export { createMemoryTransport } from "./memory/memory-transport.js";

// Pools: many connections, many servers.
export { connect, createPool } from "./pool/create-pool.js";
export type { PoolTransport } from "./pool/pool-transport.js";
export type { PoolOptions } from "./pool/pool-options.js";
export type { Resolver } from "./pool/resolver.js";
export type { Endpoint } from "./pool/endpoint.js";
export { poolCallInfo, type PoolEvent, type PoolStats } from "./pool/pool-events.js";

// Serving.
export { createServer, type Server, type ServerOptions } from "./server/server.js";
export type { HandlerContext, ServiceImpl } from "./server/handler-types.js";
export { healthDefinition, registerHealth, ServingStatus, type HealthReporter } from "./server/health.js";
export { registerReflection } from "./server/reflection.js";

// Interceptors, one vocabulary on both sides.
export type { StreamRequest, StreamResponse, UnaryRequest, UnaryResponse } from "./call/request.js";
export { withInterceptors, type Interceptor } from "./call/interceptor.js";
export { reportHandlerErrors, type ServerInterceptor, type ServerRequest } from "./server/interceptor.js";

// Shared.
export type { ServiceDefinition } from "./protobuf/service-definition.js";
export { defineStandardService } from "./protobuf/define-standard.js";
export { Code, codeToString, RpcError } from "./errors.js";
export { createContextKey, createContextValues, type ContextKey, type ContextValues } from "./context-values.js";
