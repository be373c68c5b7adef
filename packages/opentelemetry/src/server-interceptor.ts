import { context, SpanKind, trace, type Attributes } from "@opentelemetry/api";
import type { ServerInterceptor } from "@protosocket/runtime";
import { addressAttributes, isServerError, RPC_SYSTEM } from "./attributes.js";
import { InstrumentedCall, instrumentsOf, runInstrumented } from "./instrumented-call.js";
import { metadataGetter, metadataOf } from "./metadata-carrier.js";
import type { TelemetryOptions } from "./options.js";

/**
 * A server interceptor that traces every call with a SERVER span (a child of
 * the caller's span when the envelope's metadata carries its trace context),
 * active while the handler runs, and records `rpc.server.call.duration` in
 * seconds. Attributes follow OpenTelemetry's RPC conventions
 * (`rpc.system.name`, `rpc.method`, `rpc.status_code`, `error.type`,
 * `network.peer.address` / `network.peer.port`); as for gRPC, only
 * UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE and
 * DATA_LOSS mark the span as an error.
 */
export function createServerTelemetry(options: TelemetryOptions = {}): ServerInterceptor {
  const { tracer, duration, propagator, messageEvents } = instrumentsOf(options, "server");
  return (next) => async (req) => {
    const attributes: Attributes = {
      "rpc.system.name": RPC_SYSTEM,
      "rpc.method": req.methodName,
      ...addressAttributes(req.peer, "network.peer"),
    };
    const metadata = metadataOf(req);
    let parent = context.active();
    if (metadata !== undefined) parent = propagator.extract(parent, metadata, metadataGetter);
    const span = tracer.startSpan(req.methodName, { kind: SpanKind.SERVER, attributes }, parent);
    const ctx = trace.setSpan(parent, span);
    const call = new InstrumentedCall(span, ctx, duration, attributes, isServerError, messageEvents);
    return runInstrumented(call, req, next, "RECEIVED");
  };
}
