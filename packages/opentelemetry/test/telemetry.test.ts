import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { Code, connect, createClient, createServer, RpcError, type ConnectionTransport, type Server } from "@protosocket/runtime";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createClientTelemetry, createServerTelemetry } from "../src/index.js";
import { EchoServiceDefinition as echoDef } from "@protosocket/gen/echo/v1/echo_protosocket.js";

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(t);
        reject(new RpcError(Code.Cancelled, "cancelled"));
      },
      { once: true },
    );
  });

const contextManager = new AsyncLocalStorageContextManager();
const spans = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
/** The traceparent metadata the server's handler received, per call. */
const traceparents: string[] = [];
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 });
const meterProvider = new MeterProvider({ readers: [reader] });

describe("OpenTelemetry interceptors over TCP", () => {
  let server: Server;
  let transport: ConnectionTransport;
  let handlerSpanIds: (string | undefined)[] = [];

  beforeAll(async () => {
    context.setGlobalContextManager(contextManager.enable());
    const propagator = new W3CTraceContextPropagator();
    server = createServer({ interceptors: [createServerTelemetry({ tracerProvider, meterProvider, propagator })] });
    server.register(echoDef, {
      async echo(req, ctx) {
        // The server span is the active span while the handler runs.
        handlerSpanIds.push(trace.getActiveSpan()?.spanContext().spanId);
        const traceparent = ctx.metadata.get("traceparent");
        if (traceparent !== undefined) traceparents.push(traceparent);
        if (req.message.startsWith("sleep:")) await sleep(Number(req.message.slice(6)), ctx.signal);
        return { message: req.message, payload: req.payload };
      },
      async *count(req, ctx) {
        for (let n = 1; n <= req.count; n++) {
          if (req.delayMs > 0) await sleep(req.delayMs, ctx.signal);
          yield { n };
        }
      },
      fail(req) {
        throw new RpcError(req.code as Code, req.message);
      },
    });
    const { port } = await server.listen();
    transport = await connect({ port, interceptors: [createClientTelemetry({ tracerProvider, meterProvider, propagator })] });
  });
  afterAll(async () => {
    transport.close();
    await server.close({ graceMs: 0 });
    context.disable();
  });
  afterEach(() => {
    spans.reset();
    handlerSpanIds = [];
  });

  const byKind = (kind: SpanKind): ReadableSpan[] => spans.getFinishedSpans().filter((s) => s.kind === kind);

  it("records a client and a server span per unary call, with the RPC attributes", async () => {
    const client = createClient(echoDef, transport);
    const parent = tracerProvider.getTracer("test").startSpan("parent");
    await context.with(trace.setSpan(context.active(), parent), () => client.echo({ message: "hi" }));
    parent.end();
    const [clientSpan] = byKind(SpanKind.CLIENT);
    const [serverSpan] = byKind(SpanKind.SERVER);
    expect(clientSpan?.name).toBe("echo.v1.EchoService/Echo");
    expect(clientSpan?.attributes).toMatchObject({
      "rpc.system.name": "protosocket",
      "rpc.method": "echo.v1.EchoService/Echo",
      "rpc.status_code": "OK",
      "server.address": "127.0.0.1",
      "server.port": Number(transport.peer.split(":")[1]),
    });
    // The client span is a child of the caller's span.
    expect(clientSpan?.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(clientSpan?.status.code).toBe(SpanStatusCode.UNSET);
    expect(clientSpan?.events.map((e) => [e.name, e.attributes?.["rpc.message.type"]])).toEqual([
      ["rpc.message", "SENT"],
      ["rpc.message", "RECEIVED"],
    ]);
    expect(serverSpan?.attributes).toMatchObject({
      "rpc.system.name": "protosocket",
      "rpc.method": "echo.v1.EchoService/Echo",
      "rpc.status_code": "OK",
      "network.peer.address": "127.0.0.1",
    });
    expect(handlerSpanIds).toEqual([serverSpan?.spanContext().spanId]);
  });

  it("carries the trace context in the envelope's metadata: the server span is a child of the client span, across a real TCP call", async () => {
    const client = createClient(echoDef, transport);
    await client.echo({ message: "traced" });
    const [clientSpan] = byKind(SpanKind.CLIENT);
    const [serverSpan] = byKind(SpanKind.SERVER);
    expect(serverSpan?.spanContext().traceId).toBe(clientSpan?.spanContext().traceId);
    expect(serverSpan?.parentSpanContext?.spanId).toBe(clientSpan?.spanContext().spanId);
    expect(traceparents.at(-1)).toBe(`00-${clientSpan?.spanContext().traceId}-${clientSpan?.spanContext().spanId}-01`);
  });

  it("marks failures: every error code on the client, server-side faults on the server", async () => {
    const client = createClient(echoDef, transport);
    await client.fail({ code: Code.NotFound, message: "gone" }).catch(() => undefined);
    await client.fail({ code: Code.Internal, message: "broke" }).catch(() => undefined);
    const clientSpans = byKind(SpanKind.CLIENT);
    const serverSpans = byKind(SpanKind.SERVER);
    expect(clientSpans.map((s) => [s.attributes["rpc.status_code"], s.attributes["error.type"], s.status.code])).toEqual([
      ["NOT_FOUND", "NOT_FOUND", SpanStatusCode.ERROR],
      ["INTERNAL", "INTERNAL", SpanStatusCode.ERROR],
    ]);
    expect(serverSpans.map((s) => [s.attributes["rpc.status_code"], s.attributes["error.type"], s.status.code])).toEqual([
      ["NOT_FOUND", undefined, SpanStatusCode.UNSET],
      ["INTERNAL", "INTERNAL", SpanStatusCode.ERROR],
    ]);
  });

  it("covers a stream's whole life with an event per message, and records a cancelled stream as CANCELLED", async () => {
    const client = createClient(echoDef, transport);
    const got: number[] = [];
    for await (const item of client.count({ count: 3 })) got.push(item.n);
    expect(got).toEqual([1, 2, 3]);
    for await (const item of client.count({ count: 1000, delayMs: 2 })) {
      if (item.n === 2) break;
    }
    await new Promise((r) => setTimeout(r, 50));
    const clientSpans = byKind(SpanKind.CLIENT);
    expect(clientSpans.map((s) => s.attributes["rpc.status_code"])).toEqual(["OK", "CANCELLED"]);
    expect(
      clientSpans[0]?.events.filter((e) => e.attributes?.["rpc.message.type"] === "RECEIVED").map((e) => e.attributes?.["rpc.message.id"]),
    ).toEqual([1, 2, 3]);
    const serverSpans = byKind(SpanKind.SERVER);
    expect(serverSpans.map((s) => s.attributes["rpc.status_code"]).sort()).toEqual(["CANCELLED", "OK"]);
  });

  it("records a timed-out call as DEADLINE_EXCEEDED", async () => {
    const client = createClient(echoDef, transport);
    const err = await client.echo({ message: "sleep:2000" }, { timeoutMs: 30 }).catch((e: unknown) => e);
    expect((err as RpcError).code).toBe(Code.DeadlineExceeded);
    await new Promise((r) => setTimeout(r, 50));
    expect(byKind(SpanKind.CLIENT).map((s) => [s.attributes["rpc.status_code"], s.status.code])).toEqual([
      ["DEADLINE_EXCEEDED", SpanStatusCode.ERROR],
    ]);
  });

  it("records client and server call durations in seconds, by method and status", async () => {
    const client = createClient(echoDef, transport);
    await client.echo({ message: "m" });
    await reader.forceFlush();
    const metrics = metricExporter.getMetrics().flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics));
    const names = new Set(metrics.map((m) => m.descriptor.name));
    expect(names).toContain("rpc.client.call.duration");
    expect(names).toContain("rpc.server.call.duration");
    const clientMetric = metrics.find((m) => m.descriptor.name === "rpc.client.call.duration");
    expect(clientMetric?.descriptor.unit).toBe("s");
    const ok = clientMetric?.dataPoints.find(
      (p) => p.attributes["rpc.method"] === "echo.v1.EchoService/Echo" && p.attributes["rpc.status_code"] === "OK",
    );
    expect((ok?.value as { count: number } | undefined)?.count).toBeGreaterThanOrEqual(1);
  });
});
