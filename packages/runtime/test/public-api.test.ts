/**
 * The published surface: what `@protosocket/runtime` (the application API)
 * exposes through its .d.ts files, checked against `dist` as a consumer
 * compiles it.
 */
import { mkdtempSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { afterAll, describe, expect, it } from "vitest";

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(pkg, "dist");

/** Declaration files the application entry point's types can reach (its own imports, transitively). */
function reachable(entry: string): string[] {
  const program = ts.createProgram([entry], {
    module: ts.ModuleKind.Node16,
    moduleResolution: ts.ModuleResolutionKind.Node16,
    noEmit: true,
    skipLibCheck: true,
  });
  return program
    .getSourceFiles()
    .map((f) => f.fileName)
    .filter((f) => f.startsWith(dist))
    .map((f) => relative(dist, f))
    .sort();
}

describe("public API", () => {
  const scratch = mkdtempSync(join(tmpdir(), "protosocket-consumer-"));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it("the application entry's types reach no internal module (connections, envelope codecs, call objects, a pool's machinery)", () => {
    const files = reachable(join(dist, "index.d.ts"));
    expect(files).toContain("call/transport.d.ts");
    const internal = files.filter((f) =>
      /^(client\/(client-connection|client-call|unary-call|server-stream-call|dial|not-run)|conn\/(socket-link|memory-link|frame-link|link-errors)|encoding\/(encoding|codecs|envelope-wire)|protobuf\/(encoding|[a-z-]*envelope|compile)|server\/(server-connection|server-call|served-method|handler-context)|pool\/(pool|slot|pool-address|pool-settings|pool-stream|retrying-call|dns-resolver)\.d\.ts|wire\/|binding\/resolve)/.test(
        f,
      ),
    );
    expect(internal).toEqual([]);
  });

  it("the MessagePack entry's types reach no internal module either", () => {
    const files = reachable(join(dist, "messagepack.d.ts"));
    expect(files).toContain("messagepack/schema.d.ts");
    const internal = files.filter((f) =>
      /^(client\/(client-connection|client-call|unary-call|server-stream-call)|conn\/|encoding\/(encoding|codecs|envelope-wire)|messagepack\/(envelope-wire|encoding)|server\/(server-connection|server-call|served-method|handler-context)|wire\/|binding\/resolve)/.test(
        f,
      ),
    );
    expect(internal).toEqual([]);
  });

  it("a strict consumer compiles against dist using only the application entry point", () => {
    const app = join(scratch, "app");
    mkdirSync(join(app, "node_modules", "@protosocket"), { recursive: true });
    symlinkSync(pkg, join(app, "node_modules", "@protosocket", "runtime"));
    symlinkSync(resolve(pkg, "../../node_modules/@bufbuild"), join(app, "node_modules", "@bufbuild"));
    writeFileSync(join(app, "package.json"), JSON.stringify({ type: "module" }));
    const source = join(app, "consumer.ts");
    writeFileSync(
      source,
      `import { Code, connect, createClient, createContextKey, createMemoryTransport, createPool, createServer, neverRan, poolCallInfo, RpcError, type CallOptions, type ConnectionTransport, type Interceptor, type PoolEvent, type PoolTransport, type Resolver, type ServerInterceptor, type Transport } from "@protosocket/runtime";
import * as mp from "@protosocket/runtime/messagepack";
const logging: Interceptor = (next) => async (req) => { const res = await next(req); return res; };
const auth: ServerInterceptor = (next) => (req) => { if (req.peer === "") throw new RpcError(Code.Unauthenticated, "who?"); return next(req); };
const key = createContextKey(0);
export async function main(): Promise<void> {
  const server = createServer({ interceptors: [auth] });
  const t: ConnectionTransport = await connect({ port: 1, interceptors: [logging] });
  const seam: Transport = t;
  const options: CallOptions = { timeoutMs: 5 };
  void [server, seam, options, key, createClient, createMemoryTransport, t.pendingCalls, t.peer];
  // @ts-expect-error internals are not part of the transport's type
  void t.calls;
  const resolver: Resolver = { name: "registry", resolve: () => [{ host: "10.0.0.7", port: 7000, weight: 2 }, { path: "/run/x.sock" }] };
  const pool: PoolTransport = createPool(resolver, { picker: "key-hash", retry: { maxAttempts: 2, maxNeverRanRetries: 0 }, ejection: false, onEvent: (e: PoolEvent) => void e.type });
  const safeToSendAgain: boolean = neverRan(new RpcError(Code.Unavailable, "x"));
  const many: PoolTransport = await connect(["127.0.0.1:1", "dns:///x:1"].slice(0, 1), { maxConnectionAgeMs: 60_000 });
  const routed: CallOptions = { key: "user-1" };
  const where: Interceptor = (next) => async (req) => { const res = await next(req); void req.contextValues.get(poolCallInfo)?.attempts.length; return res; };
  void [pool.stats.addresses[0]?.state, many.subscribe(() => {}), routed, where, safeToSendAgain];
  // @ts-expect-error a pool's slots are not part of its type
  void pool.addresses;
}
interface Greeting { name: string; times: number | bigint }
const Greeting = mp.struct<Greeting>("Greeting", { name: mp.string, times: mp.u64 });
export const GreetService = mp.defineMessagePackService({
  typeName: "greet.GreetService",
  request: { name: "Request", fields: { request_id: "id", code: "code", body: "body" } },
  response: { name: "Response", fields: { request_id: "id", code: "code", body: "body" } },
  methods: { hello: mp.unary(Greeting, Greeting), ticks: mp.serverStreaming(Greeting, Greeting) },
});
export async function mpMain(): Promise<string> {
  const server = createServer();
  const impl: mp.MessagePackHandlers<typeof GreetService> = {
    hello: (req) => ({ name: \`hello \${req.name}\`, times: req.times }),
    async *ticks(req) { yield req; },
  };
  server.register(GreetService, impl);
  server.registerPartial(GreetService, {
    // @ts-expect-error a handler answers with its method's type
    hello: () => ({ name: 1, times: 1 }),
  });
  // @ts-expect-error every method needs a handler
  server.register(GreetService, { hello: impl.hello });
  const client: mp.MessagePackClient<typeof GreetService> = createClient(GreetService, createMemoryTransport(server));
  for await (const g of client.ticks({ name: "a", times: 1 })) void g.times;
  // @ts-expect-error the schema's types are checked
  void client.hello({ name: 1, times: 1 });
  return (await client.hello({ name: "Ada", times: 2n ** 60n })).name;
}
`,
    );
    const program = ts.createProgram([source], {
      strict: true,
      noUncheckedIndexedAccess: true,
      exactOptionalPropertyTypes: true,
      module: ts.ModuleKind.Node16,
      moduleResolution: ts.ModuleResolutionKind.Node16,
      target: ts.ScriptTarget.ES2022,
      noEmit: true,
      types: ["node"],
      typeRoots: [resolve(pkg, "../../node_modules/@types")],
    });
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
    expect(diagnostics).toEqual([]);
  });
});
