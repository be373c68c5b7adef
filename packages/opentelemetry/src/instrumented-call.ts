import {
  context,
  metrics,
  propagation,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Histogram,
  type Span,
  type TextMapPropagator,
  type Tracer,
} from "@opentelemetry/api";
import { Code, RpcError } from "@protosocket/runtime";
import { codeOf, statusCodeName } from "./attributes.js";
import { SCOPE, VERSION, type TelemetryOptions } from "./options.js";

/** One instrumented call: its span, its duration histogram, and how it ends. */
export class InstrumentedCall {
  private ended = false;
  private received = 0;
  private requests = 0;
  private readonly started = performance.now();

  /**
   * @param span the call's span, already started.
   * @param ctx the context with the span set, in which the call runs.
   * @param duration where the call's duration goes, in seconds.
   * @param attributes the attributes the span started with (reused for the histogram).
   * @param isError whether a call that ended with a code is an error for this side.
   * @param messageEvents whether to record an event per message.
   */
  constructor(
    readonly span: Span,
    readonly ctx: Context,
    private readonly duration: Histogram,
    private readonly attributes: Attributes,
    private readonly isError: (code: Code) => boolean,
    private readonly messageEvents: boolean,
  ) {}

  /** Records a message going out or coming in. */
  message(type: "SENT" | "RECEIVED", id: number): void {
    if (this.messageEvents) this.span.addEvent("rpc.message", { "rpc.message.type": type, "rpc.message.id": id });
  }

  /** Ends the span and records the duration: successfully, or with what the call failed with. */
  end(error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    const attributes: Attributes = { ...this.attributes };
    if (error === undefined) {
      attributes["rpc.status_code"] = statusCodeName(0);
    } else {
      const code = codeOf(error);
      const name = statusCodeName(code);
      attributes["rpc.status_code"] = name;
      if (this.isError(code)) {
        attributes["error.type"] = name;
        this.span.setStatus({ code: SpanStatusCode.ERROR, message: RpcError.from(error).rawMessage });
        if (error instanceof Error) this.span.recordException(error);
      }
    }
    this.span.setAttributes(attributes);
    this.span.end();
    this.duration.record((performance.now() - this.started) / 1000, attributes);
  }

  /**
   * Wraps a stream of request messages (client and bidi streaming): an event
   * per message, numbered from 1; the span is not ended by it.
   */
  wrapRequests<T>(messages: AsyncIterable<T>, type: "SENT" | "RECEIVED"): AsyncIterable<T> {
    const call = this;
    return {
      [Symbol.asyncIterator](): AsyncIterator<T> {
        const it = messages[Symbol.asyncIterator]();
        return {
          async next() {
            const r = await it.next();
            if (r.done !== true) call.message(type, ++call.requests);
            return r;
          },
          async return(value?: unknown) {
            if (it.return !== undefined) await (it.return as (v?: unknown) => Promise<IteratorResult<T>>)(value);
            return { value: undefined as never, done: true };
          },
        };
      },
    };
  }

  /**
   * Wraps a stream of messages: an event per message, the span ended when the
   * stream ends, fails, or is left early (recorded as `cancelled`). Each
   * `next()` runs in the call's context, so a handler's generator sees its
   * span as the active one.
   */
  wrapStream<T>(messages: AsyncIterable<T>, type: "SENT" | "RECEIVED"): AsyncIterable<T> {
    const call = this;
    return {
      [Symbol.asyncIterator](): AsyncIterator<T> {
        const it = messages[Symbol.asyncIterator]();
        return {
          async next() {
            let r: IteratorResult<T>;
            try {
              r = await context.with(call.ctx, () => it.next());
            } catch (e) {
              call.end(e);
              throw e;
            }
            if (r.done === true) call.end();
            else call.message(type, ++call.received);
            return r;
          },
          async return(value?: unknown) {
            call.end(new RpcError(Code.Cancelled, "the stream was left before its end"));
            if (it.return !== undefined)
              await context.with(call.ctx, () => (it.return as (v?: unknown) => Promise<IteratorResult<T>>)(value));
            return { value: undefined as never, done: true };
          },
        };
      },
    };
  }
}

/** What one side's interceptor records with: made once per interceptor. */
export interface Instruments {
  readonly tracer: Tracer;
  readonly duration: Histogram;
  /** The configured propagator, or the global one (looked up at each call). */
  readonly propagator: Pick<TextMapPropagator, "inject" | "extract">;
  readonly messageEvents: boolean;
}

/** The tracer, the `rpc.<side>.call.duration` histogram (seconds) and the options of one side. */
export function instrumentsOf(options: TelemetryOptions, side: "client" | "server"): Instruments {
  const meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(SCOPE, VERSION);
  return {
    tracer: (options.tracerProvider ?? trace.getTracerProvider()).getTracer(SCOPE, VERSION),
    duration: meter.createHistogram(`rpc.${side}.call.duration`, {
      unit: "s",
      description: `Measures the duration of an ${side === "client" ? "outgoing" : "incoming"} Remote Procedure Call (RPC).`,
    }),
    propagator: options.propagator ?? propagation,
    messageEvents: options.messageEvents ?? true,
  };
}

/** A call's request or response as either side's interceptors see it: one message, or a stream of them. */
type CallPart = { readonly stream: false; readonly message: unknown } | { readonly stream: true; readonly message: AsyncIterable<unknown> };

/**
 * Runs `next` in the call's context with message events for the requests
 * (`requests`: SENT on the client, RECEIVED on the server) and the
 * responses (the other type); the call ends when its one response arrives,
 * when it fails, or when its response stream ends.
 */
export async function runInstrumented<Req extends CallPart, Res extends CallPart>(
  call: InstrumentedCall,
  req: Req,
  next: (req: Req) => Promise<Res>,
  requests: "SENT" | "RECEIVED",
): Promise<Res> {
  const responses = requests === "SENT" ? "RECEIVED" : "SENT";
  let request = req;
  if (req.stream) request = { ...req, message: call.wrapRequests(req.message, requests) };
  else call.message(requests, 1);
  let res: Res;
  try {
    res = await context.with(call.ctx, () => next(request));
  } catch (e) {
    call.end(e);
    throw e;
  }
  if (!res.stream) {
    call.message(responses, 1);
    call.end();
    return res;
  }
  return { ...res, message: call.wrapStream(res.message, responses) };
}
