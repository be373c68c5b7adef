/**
 * @protosocket/opentelemetry — OpenTelemetry tracing and metrics for
 * protosocket-ts, as client and server interceptors.
 *
 * ```ts
 * const transport = await connect({ port, interceptors: [createClientTelemetry()] });
 * const server = createServer({ interceptors: [createServerTelemetry()] });
 * ```
 */
export { createClientTelemetry } from "./client-interceptor.js";
export { createServerTelemetry } from "./server-interceptor.js";
export { RPC_SYSTEM } from "./attributes.js";
export type { TelemetryOptions } from "./options.js";
