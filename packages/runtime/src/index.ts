/**
 * @protosocket/runtime — protobuf RPC over plain TCP and TLS, wire-compatible
 * with the Rust protosocket-rpc crate. This entry point is the application
 * API; what generated code and tools need is in `@protosocket/runtime/protocol`.
 */

// Clients.
export type { ConnectOptions, ConnectionTransport } from "./client/connect-options.js";
export type { Transport } from "./call/transport.js";
export type { CallOptions } from "./call/call-options.js";
export { createClient, type ClientOptions } from "./client/create-client.js";
export { neverRan } from "./client/never-ran.js";
export type { BiDiStreamingFn, Client, ClientStreamingFn, ServerStreamingFn, UnaryFn } from "./client/client-types.js";

// Interceptors, on both sides.
export type { AnyRequest, AnyResponse, StreamRequest, StreamResponse, UnaryRequest, UnaryResponse } from "./call/request.js";
export { applyInterceptors, withInterceptors, type CallFn, type Interceptor } from "./call/interceptor.js";

// Pools: many connections, many servers.
export { connect, createPool, type PoolConnectOptions } from "./pool/create-pool.js";
export type { PoolTransport } from "./pool/pool-transport.js";
export type { EjectionOptions, PoolOptions } from "./pool/pool-options.js";
export type { Target } from "./pool/target.js";
export type { Resolver } from "./pool/resolver.js";
export type { Endpoint, TcpEndpoint, UnixEndpoint } from "./pool/endpoint.js";
export type { BackoffOptions } from "./pool/backoff.js";
export type { RetryBudgetOptions, RetryOptions } from "./pool/retry-budget.js";
export type { PickerName } from "./pool/pickers.js";
export {
  poolCallInfo,
  type AddressState,
  type AddressStats,
  type PoolAttempt,
  type PoolCallInfo,
  type PoolEvent,
  type PoolStats,
} from "./pool/pool-events.js";

// Servers.
export {
  createServer,
  type CloseOptions,
  type ListenOptions,
  type Server,
  type ServerAddress,
  type ServerOptions,
} from "./server/server.js";
export type {
  BiDiStreamingHandler,
  ClientStreamingHandler,
  HandlerContext,
  ServerStreamingHandler,
  ServiceImpl,
  UnaryHandler,
} from "./server/handler-types.js";
export {
  reportHandlerErrors,
  type ServerInterceptor,
  type ServerRequest,
  type ServerStreamRequest,
  type ServerUnaryRequest,
} from "./server/interceptor.js";

// Health checks.
export { healthDefinition, registerHealth, ServingStatus, type HealthCases, type HealthReporter } from "./server/health.js";

// Tests without sockets.
export { createMemoryTransport, type MemoryTransportOptions } from "./memory/memory-transport.js";

// Shared.
export type { ServiceDefinition } from "./protobuf/service-definition.js";
export type { AnyServiceDefinition } from "./encoding/service.js";
export { Code, codeToString, RpcError, type RpcErrorContext, type RpcErrorDetail } from "./errors.js";
export { createContextKey, createContextValues, type ContextKey, type ContextValues } from "./context-values.js";
export type { MetadataInit } from "./metadata.js";
export type { ClientTlsOptions, ServerTlsOptions } from "./conn/socket-options.js";
