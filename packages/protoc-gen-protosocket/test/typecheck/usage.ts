// Type-level checks of the generated code (never run; test/tsconfig.json
// type-checks it, see typecheck.test.ts). Each `@ts-expect-error` is a
// mistake a user must get a compile error for; tsc fails if one compiles.
import type { Server, ServiceImpl, Transport } from "@protosocket/runtime";
import * as js from "../gen/js/fixture/kv/v1/kv_service_protosocket.js";
import type { KvService } from "../gen/ts/fixture/kv/v1/kv_service_pb.js";
import * as ts from "../gen/ts/fixture/kv/v1/kv_service_protosocket.js";
import type { GetResponse, WatchEvent } from "../gen/ts/fixture/kv/v1/protocol_pb.js";
import * as interop from "../gen/ts/interop/v1/interop_service_protosocket.js";

const handlers: ts.KvServiceHandlers = {
  get(request) {
    return { value: new TextEncoder().encode(request.key) };
  },
  async put(request, ctx) {
    ctx.signal.throwIfAborted();
    return { replaced: request.key.length > 0 && ctx.messageId > 0n };
  },
  async *watch(request) {
    yield { key: request.prefix };
  },
  delete() {
    return {};
  },
};

export async function useGenerated(server: Server, transport: Transport): Promise<void> {
  ts.registerKvService(server, handlers);
  // The target=js+dts output declares the same shapes.
  js.registerKvService(server, handlers);
  const jsHandlers: js.KvServiceHandlers = handlers;
  // The generated interface and the runtime's mapped type agree both ways.
  const impl: ServiceImpl<typeof KvService> = handlers;
  const back: ts.KvServiceHandlers = impl;
  void jsHandlers;
  void back;

  // @ts-expect-error a missing handler is a type error
  ts.registerKvService(server, { get: () => ({}) });
  // ... unless the user opts into a partial implementation.
  ts.registerKvServicePartial(server, { get: () => ({}) });
  js.registerKvServicePartial(server, {});

  ts.registerKvServicePartial(server, {
    // @ts-expect-error a handler must answer with the method's output
    get: () => ({ replaced: true }),
  });
  ts.registerKvServicePartial(server, {
    // @ts-expect-error a streaming handler returns an AsyncIterable
    watch: () => ({ key: "k" }),
  });

  const client = ts.createKvServiceClient(transport);
  const got: GetResponse = await client.get({ key: "a" }, { timeoutMs: 100, signal: AbortSignal.timeout(50) });
  void got;
  // @ts-expect-error requests are typed
  await client.get({ key: 1 });
  // @ts-expect-error unary methods return a Promise, not a stream
  for await (const x of client.get({ key: "a" })) void x;
  for await (const event of client.watch({ prefix: "a" })) {
    const e: WatchEvent = event;
    void e;
  }
  const jsClient: js.KvServiceClient = js.createKvServiceClient(transport);
  await jsClient.delete({ key: "a" });

  const echo = interop.createInteropServiceClient(transport);
  const res = await echo.echo({ message: "hi", payload: new Uint8Array(1) });
  const text: string = res.message;
  void text;
}
