import { SpanKind } from "@opentelemetry/api";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { createClient, createMemoryTransport, createServer } from "@protosocket/runtime";
import { serviceFromRegistry } from "@protosocket/runtime/protocol";
import { createRegistry } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { createClientTelemetry, createServerTelemetry } from "../src/index.js";
import { file_streaming_v1_streaming, StreamingService } from "@protosocket/gen/streaming/v1/streaming_pb.js";

const streamingDef = serviceFromRegistry(StreamingService, createRegistry(file_streaming_v1_streaming));

/** The rpc.message events of a span, as "TYPE id". */
function messageEvents(span: ReadableSpan | undefined): string[] {
  return (span?.events ?? [])
    .filter((e) => e.name === "rpc.message")
    .map((e) => `${String(e.attributes?.["rpc.message.type"])} ${String(e.attributes?.["rpc.message.id"])}`);
}

describe("OpenTelemetry interceptors on client and bidi streaming calls", () => {
  it("record an event per request and response message, and end each span once with the call's outcome", async () => {
    const spans = new InMemorySpanExporter();
    const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
    const meterProvider = new MeterProvider();
    const server = createServer({ interceptors: [createServerTelemetry({ tracerProvider, meterProvider })] });
    server.register(streamingDef, {
      async upload(chunks) {
        let n = 0;
        for await (const _ of chunks) n++;
        return { chunks: n };
      },
      async *chat(lines) {
        for await (const line of lines) yield line;
      },
      ping: (m) => m,
    });
    const transport = createMemoryTransport(server, { interceptors: [createClientTelemetry({ tracerProvider, meterProvider })] });
    const client = createClient(streamingDef, transport);
    const three = async function* () {
      for (let seq = 1; seq <= 3; seq++) yield { seq };
    };
    expect(await client.upload(three())).toMatchObject({ chunks: 3 });
    const seqs: number[] = [];
    for await (const m of client.chat(three())) seqs.push(m.seq);
    expect(seqs).toEqual([1, 2, 3]);
    await new Promise((r) => setTimeout(r, 20));
    const of = (kind: SpanKind, name: string) => spans.getFinishedSpans().filter((s) => s.kind === kind && s.name === name);
    const [uploadClient] = of(SpanKind.CLIENT, "streaming.v1.StreamingService/Upload");
    const [uploadServer] = of(SpanKind.SERVER, "streaming.v1.StreamingService/Upload");
    expect(messageEvents(uploadClient)).toEqual(["SENT 1", "SENT 2", "SENT 3", "RECEIVED 1"]);
    expect(messageEvents(uploadServer)).toEqual(["RECEIVED 1", "RECEIVED 2", "RECEIVED 3", "SENT 1"]);
    const [chatClient] = of(SpanKind.CLIENT, "streaming.v1.StreamingService/Chat");
    const [chatServer] = of(SpanKind.SERVER, "streaming.v1.StreamingService/Chat");
    expect(messageEvents(chatClient).filter((e) => e.startsWith("SENT"))).toEqual(["SENT 1", "SENT 2", "SENT 3"]);
    expect(messageEvents(chatClient).filter((e) => e.startsWith("RECEIVED"))).toEqual(["RECEIVED 1", "RECEIVED 2", "RECEIVED 3"]);
    expect(messageEvents(chatServer).filter((e) => e.startsWith("RECEIVED"))).toEqual(["RECEIVED 1", "RECEIVED 2", "RECEIVED 3"]);
    for (const span of [uploadClient, uploadServer, chatClient, chatServer]) expect(span?.attributes["rpc.status_code"]).toBe("OK");
    expect(spans.getFinishedSpans()).toHaveLength(4);
    transport.close();
    await server.close({ graceMs: 0 });
  });
});
