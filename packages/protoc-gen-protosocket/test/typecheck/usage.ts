// Type-level checks of the generated code (never run; test/tsconfig.json
// type-checks it, see typecheck.test.ts). Each `@ts-expect-error` is a
// mistake a user must get a compile error for; tsc fails if one compiles.
import type { KvService } from "@protosocket/gen/fixture/kv/v1/kv_service_pb.js";
import {
  type KvServiceClient,
  KvServiceDefinition,
  type KvServiceHandlers,
} from "@protosocket/gen/fixture/kv/v1/kv_service_protosocket.js";
import type { GetResponse, WatchEvent } from "@protosocket/gen/fixture/kv/v1/protocol_pb.js";
import { InteropServiceDefinition } from "@protosocket/gen/interop/v1/interop_service_protosocket.js";
import { createClient, type Server, type ServiceDefinition, type ServiceImpl, type Transport } from "@protosocket/runtime";

const handlers: KvServiceHandlers = {
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
  server.register(KvServiceDefinition, handlers);
  // The generated aliases are the runtime's mapped types.
  const impl: ServiceImpl<typeof KvService> = handlers;
  const def: ServiceDefinition<typeof KvService> = KvServiceDefinition;
  void impl;
  void def;

  // @ts-expect-error a missing handler is a type error
  server.register(KvServiceDefinition, { get: () => ({}) });
  // ... unless the user opts into a partial implementation.
  server.registerPartial(KvServiceDefinition, { get: () => ({}) });
  server.registerPartial(KvServiceDefinition, {});

  server.registerPartial(KvServiceDefinition, {
    // @ts-expect-error a handler must answer with the method's output
    get: () => ({ replaced: true }),
  });
  server.registerPartial(KvServiceDefinition, {
    // @ts-expect-error a streaming handler returns an AsyncIterable
    watch: () => ({ key: "k" }),
  });
  // @ts-expect-error the handlers of one service do not serve another
  server.register(InteropServiceDefinition, handlers);

  const client: KvServiceClient = createClient(KvServiceDefinition, transport);
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

  const echo = createClient(InteropServiceDefinition, transport);
  const res = await echo.echo({ message: "hi", payload: new Uint8Array(1) });
  const text: string = res.message;
  void text;
}
