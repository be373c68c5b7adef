import { context, SpanKind, trace, type Attributes } from "@opentelemetry/api";
import type { Interceptor } from "@protosocket/runtime";
import { addressAttributes, RPC_SYSTEM } from "./attributes.js";
import { InstrumentedCall, instrumentsOf, runInstrumented } from "./instrumented-call.js";
import { metadataOf, metadataSetter } from "./metadata-carrier.js";
import type { TelemetryOptions } from "./options.js";

/**
 * A client interceptor that traces every call with a CLIENT span named
 * `package.Service/Method` (OpenTelemetry's RPC conventions: `rpc.system.name`
 * "protosocket", `rpc.method`, `rpc.status_code`, `error.type`,
 * `server.address` / `server.port`), records `rpc.client.call.duration` in
 * seconds, adds an `rpc.message` event per message, and injects the trace
 * context into the call's metadata when its envelope carries metadata.
 * Every code but OK marks the span as an error.
 */
export function createClientTelemetry(options: TelemetryOptions = {}): Interceptor {
  const { tracer, duration, propagator, messageEvents } = instrumentsOf(options, "client");
  return (next) => async (req) => {
    const attributes: Attributes = {
      "rpc.system.name": RPC_SYSTEM,
      "rpc.method": req.methodName,
      ...addressAttributes(req.peer, "server"),
    };
    const parent = context.active();
    const span = tracer.startSpan(req.methodName, { kind: SpanKind.CLIENT, attributes }, parent);
    const ctx = trace.setSpan(parent, span);
    const metadata = metadataOf(req);
    if (metadata !== undefined) propagator.inject(ctx, metadata, metadataSetter);
    const call = new InstrumentedCall(span, ctx, duration, attributes, () => true, messageEvents);
    return runInstrumented(call, req, next, "SENT");
  };
}
