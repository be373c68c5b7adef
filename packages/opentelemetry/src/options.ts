import type { MeterProvider, TextMapPropagator, TracerProvider } from "@opentelemetry/api";

/** Options of the client and server interceptors. */
export interface TelemetryOptions {
  /** Where spans go. Default: the global tracer provider. */
  tracerProvider?: TracerProvider;
  /** Where duration histograms go. Default: the global meter provider. */
  meterProvider?: MeterProvider;
  /**
   * How trace context travels in the envelope's metadata field (when the
   * service binds one). Default: the global propagator (W3C trace context
   * once an SDK registers it).
   */
  propagator?: TextMapPropagator;
  /** Record an event per stream message (`rpc.message`, SENT / RECEIVED with a sequence number). Default true. */
  messageEvents?: boolean;
}

/** The instrumentation scope name of spans and metrics. */
export const SCOPE = "@protosocket/opentelemetry";
/** The instrumentation scope version. */
export const VERSION = "0.1.0";
