import { context, metrics, propagation, SpanKind, trace, type Attributes } from "@opentelemetry/api";
import type { ServerInterceptor } from "@protosocket/runtime";
import { addressAttributes, isServerError, RPC_SYSTEM } from "./attributes.js";
import { InstrumentedCall } from "./instrumented-call.js";
import { metadataGetter, metadataOf } from "./metadata-carrier.js";
import { SCOPE, VERSION, type TelemetryOptions } from "./options.js";

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
  const tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(SCOPE, VERSION);
  const meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(SCOPE, VERSION);
  const duration = meter.createHistogram("rpc.server.call.duration", {
    unit: "s",
    description: "Measures the duration of an incoming Remote Procedure Call (RPC).",
  });
  const messageEvents = options.messageEvents ?? true;
  const propagator = options.propagator;
  return (next) => async (req) => {
    const attributes: Attributes = {
      "rpc.system.name": RPC_SYSTEM,
      "rpc.method": req.methodName,
      ...addressAttributes(req.peer, "network.peer"),
    };
    const metadata = metadataOf(req);
    let parent = context.active();
    if (metadata !== undefined) {
      parent =
        propagator !== undefined
          ? propagator.extract(parent, metadata, metadataGetter)
          : propagation.extract(parent, metadata, metadataGetter);
    }
    const span = tracer.startSpan(req.methodName, { kind: SpanKind.SERVER, attributes }, parent);
    const ctx = trace.setSpan(parent, span);
    const call = new InstrumentedCall(span, ctx, duration, attributes, isServerError, messageEvents);
    let request = req;
    if (req.kind === "client_streaming" || req.kind === "bidi_streaming")
      request = { ...req, message: call.wrapRequests(req.message, "RECEIVED") };
    else call.message("RECEIVED", 1);
    let res: Awaited<ReturnType<typeof next>>;
    try {
      res = await context.with(ctx, () => next(request));
    } catch (e) {
      call.end(e);
      throw e;
    }
    if (res.kind === "unary" || res.kind === "client_streaming") {
      call.message("SENT", 1);
      call.end();
      return res;
    }
    return { ...res, message: call.wrapStream(res.message, "SENT") };
  };
}
