import { context, metrics, propagation, SpanKind, trace, type Attributes } from "@opentelemetry/api";
import type { Interceptor } from "@protosocket/runtime";
import { addressAttributes, RPC_SYSTEM } from "./attributes.js";
import { InstrumentedCall } from "./instrumented-call.js";
import { metadataOf, metadataSetter } from "./metadata-carrier.js";
import { SCOPE, VERSION, type TelemetryOptions } from "./options.js";

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
  const tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(SCOPE, VERSION);
  const meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(SCOPE, VERSION);
  const duration = meter.createHistogram("rpc.client.call.duration", {
    unit: "s",
    description: "Measures the duration of an outgoing Remote Procedure Call (RPC).",
  });
  const messageEvents = options.messageEvents ?? true;
  const propagator = options.propagator;
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
    if (metadata !== undefined) {
      if (propagator !== undefined) propagator.inject(ctx, metadata, metadataSetter);
      else propagation.inject(ctx, metadata, metadataSetter);
    }
    const call = new InstrumentedCall(span, ctx, duration, attributes, () => true, messageEvents);
    let request = req;
    if (req.kind === "client_streaming" || req.kind === "bidi_streaming")
      request = { ...req, message: call.wrapRequests(req.message, "SENT") };
    else call.message("SENT", 1);
    let res: Awaited<ReturnType<typeof next>>;
    try {
      res = await context.with(ctx, () => next(request));
    } catch (e) {
      call.end(e);
      throw e;
    }
    if (res.kind === "unary" || res.kind === "client_streaming") {
      call.message("RECEIVED", 1);
      call.end();
      return res;
    }
    return { ...res, message: call.wrapStream(res.message, "RECEIVED") };
  };
}
