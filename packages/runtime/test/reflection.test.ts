/**
 * Server reflection (registerReflection): a server of standard-envelope
 * services and a server of bound envelopes describe themselves to a client
 * that knows neither (a probing connection), and what they return is enough
 * to bind and call their services; servers without reflection refuse a
 * probing frame without running anything.
 */
import { create, createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { RouteGuideService, RouteStatsService } from "@protosocket/gen/routeguide/v1/route_guide_pb.js";
import { afterEach, describe, expect, it } from "vitest";
import {
  Code,
  connect,
  createClient,
  createServer,
  defineStandardService,
  registerHealth,
  registerReflection,
  RpcError,
  type ConnectionTransport,
  type Server,
  type ServerInterceptor,
} from "../src/index.js";
import * as mp from "../src/messagepack.js";
import { ServerReflection, type ServerReflectionResponse } from "../src/gen/protosocket/v1/reflection_pb.js";
import { serviceFromRegistry } from "../src/protocol.js";
import { echoImpl } from "./support/echo-server.js";
import { echoDef } from "./support/services.js";

const routeDef = defineStandardService(RouteGuideService);
const statsDef = defineStandardService(RouteStatsService);
/** The reflection client of a tool that does not know the server's envelope. */
const probing = defineStandardService(ServerReflection, { probe: true });

type Ask =
  Parameters<ReturnType<typeof createClient<typeof probing>>["serverReflectionInfo"]>[0] extends AsyncIterable<infer R> ? R : never;

/** Sends `requests` in one reflection call and returns the answers. */
async function ask(transport: ConnectionTransport, ...requests: Ask[]): Promise<ServerReflectionResponse[]> {
  const out: ServerReflectionResponse[] = [];
  async function* all() {
    yield* requests;
  }
  for await (const r of createClient(probing, transport).serverReflectionInfo(all(), { timeoutMs: 10_000 })) out.push(r);
  return out;
}

/** The registry of every file a reflection answer carried. */
function registryOf(answers: readonly ServerReflectionResponse[]) {
  const files = new Map<string, ReturnType<typeof fromBinary<typeof FileDescriptorProtoSchema>>>();
  for (const a of answers) {
    if (a.messageResponse.case !== "fileDescriptorResponse") continue;
    for (const bytes of a.messageResponse.value.fileDescriptorProto) {
      const f = fromBinary(FileDescriptorProtoSchema, bytes);
      files.set(f.name, f);
    }
  }
  // Answers list a file before its imports; a registry takes them imports first.
  const ordered: (typeof files extends Map<string, infer F> ? F : never)[] = [];
  const visit = (name: string) => {
    const f = files.get(name);
    if (f === undefined || ordered.includes(f)) return;
    for (const dep of f.dependency) visit(dep);
    ordered.push(f);
  };
  for (const name of files.keys()) visit(name);
  return createFileRegistry(create(FileDescriptorSetSchema, { file: ordered }));
}

describe("server reflection", () => {
  let server: Server | undefined;
  const transports: ConnectionTransport[] = [];
  afterEach(async () => {
    for (const t of transports.splice(0)) t.close();
    await server?.close({ graceMs: 0 });
    server = undefined;
  });
  async function open(port: number): Promise<ConnectionTransport> {
    const t = await connect({ port });
    transports.push(t);
    return t;
  }

  it("on the standard envelope: lists the services and returns their files with every import", async () => {
    server = createServer();
    server.registerPartial(routeDef, { getFeature: (p) => ({ name: `at ${p.latitude}`, location: p }) });
    server.register(statsDef, { getStats: () => ({ calls: 1n }) });
    registerHealth(server);
    registerReflection(server);
    const { port } = await server.listen();
    const answers = await ask(
      await open(port),
      { messageRequest: { case: "listServices", value: "" } },
      { messageRequest: { case: "fileContainingSymbol", value: "routeguide.v1.RouteGuideService" } },
      { messageRequest: { case: "fileByFilename", value: "protosocket/v1/health.proto" } },
      { messageRequest: { case: "fileContainingSymbol", value: "routeguide.v1.RouteGuideService.GetFeature" } },
      { messageRequest: { case: "fileContainingSymbol", value: "nope.v1.Nope" } },
    );
    expect(answers).toHaveLength(5);
    const list = answers[0]?.messageResponse;
    expect(list?.case === "listServicesResponse" ? list.value.service.map((s) => s.name) : list).toEqual([
      "routeguide.v1.RouteGuideService",
      "routeguide.v1.RouteStatsService",
      "protosocket.v1.Health",
      "protosocket.v1.ServerReflection",
    ]);
    const route = answers[1]?.messageResponse;
    expect(route?.case).toBe("fileDescriptorResponse");
    if (route?.case === "fileDescriptorResponse") {
      expect(fromBinary(FileDescriptorProtoSchema, route.value.fileDescriptorProto[0] ?? new Uint8Array()).name).toBe(
        "routeguide/v1/route_guide.proto",
      );
    }
    expect(answers[3]?.messageResponse.case).toBe("fileDescriptorResponse");
    const missing = answers[4]?.messageResponse;
    expect(missing?.case === "errorResponse" ? missing.value : missing).toMatchObject({
      errorCode: Code.NotFound,
      errorMessage: 'symbol "nope.v1.Nope" not found',
    });
    expect(answers[4]?.originalRequest?.messageRequest).toEqual({ case: "fileContainingSymbol", value: "nope.v1.Nope" });
    // What came back is enough to call the service.
    const registry = registryOf(answers);
    const service = registry.getService("routeguide.v1.RouteGuideService");
    if (service === undefined) throw new Error("not in the reflected files");
    // The reflected descriptor has the generated one's shape.
    const client = createClient(defineStandardService(service as typeof RouteGuideService), await open(port));
    expect((await client.getFeature({ latitude: 7 })).name).toBe("at 7");
  });

  it("on a server of bound envelopes: answers probing connections, with the envelope options to bind the services", async () => {
    server = createServer();
    server.register(echoDef, echoImpl({ aborted: 0, streamsFinished: 0, yielded: 0 }));
    registerReflection(server);
    const { port } = await server.listen();
    const answers = await ask(
      await open(port),
      { messageRequest: { case: "listServices", value: "" } },
      { messageRequest: { case: "fileContainingSymbol", value: "echo.v1.EchoService" } },
      { messageRequest: { case: "allExtensionNumbersOfType", value: "google.protobuf.ServiceOptions" } },
    );
    const list = answers[0]?.messageResponse;
    expect(list?.case === "listServicesResponse" ? list.value.service.map((s) => s.name) : list).toEqual([
      "echo.v1.EchoService",
      "protosocket.v1.ServerReflection",
    ]);
    const ext = answers[2]?.messageResponse;
    expect(ext?.case === "allExtensionNumbersResponse" ? ext.value.extensionNumber : ext).toEqual([52170]);
    const registry = registryOf(answers);
    const service = registry.getService("echo.v1.EchoService");
    if (service === undefined) throw new Error("not in the reflected files");
    const bound = serviceFromRegistry(service, registry);
    expect(bound.binding.request.typeName).toBe("echo.v1.EchoRequestEnvelope");
    // Called with its own envelopes, on a connection of its own.
    const echo = createClient(bound as unknown as typeof echoDef, await open(port));
    expect((await echo.echo({ message: "reflected" })).message).toBe("reflected");
  });

  it("runs the server's interceptors for reflection, on bound servers too", async () => {
    const seen: string[] = [];
    const deny: ServerInterceptor = (next) => (req) => {
      seen.push(req.methodName);
      if (req.metadata.get("authorization") !== "yes") throw new RpcError(Code.Unauthenticated, "who are you?");
      return next(req);
    };
    server = createServer({ interceptors: [deny] });
    server.register(echoDef, echoImpl({ aborted: 0, streamsFinished: 0, yielded: 0 }));
    registerReflection(server);
    const { port } = await server.listen();
    const err = await ask(await open(port), { messageRequest: { case: "listServices", value: "" } }).catch((e: unknown) => e);
    expect((err as RpcError).code).toBe(Code.Unauthenticated);
    expect(seen).toEqual(["protosocket.v1.ServerReflection/ServerReflectionInfo"]);
  });

  it("a server without it refuses a probing frame and closes the connection, running nothing", async () => {
    const counters = { aborted: 0, streamsFinished: 0, yielded: 0 };
    const errors: string[] = [];
    server = createServer({ onConnectionError: (e) => errors.push(e.rawMessage) });
    const ran: string[] = [];
    server.register(echoDef, {
      ...echoImpl(counters),
      echo: (r) => {
        ran.push(r.message);
        return { message: r.message };
      },
    });
    const { port } = await server.listen();
    const err = await ask(await open(port), { messageRequest: { case: "listServices", value: "" } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect(ran).toEqual([]);
    expect(errors.length).toBe(1);
  });

  it("a server of the standard envelope without it answers unimplemented", async () => {
    server = createServer();
    server.register(statsDef, { getStats: () => ({}) });
    const { port } = await server.listen();
    const err = (await ask(await open(port), { messageRequest: { case: "listServices", value: "" } }).catch((e: unknown) => e)) as RpcError;
    expect(err.code).toBe(Code.Unimplemented);
  });

  it("is refused before any service is registered, and for MessagePack services", () => {
    expect(() => registerReflection(createServer())).toThrow(/register the server's services before registerReflection/);
    const s = createServer();
    const Req = mp.struct<{ n: number }>("Req", { n: mp.u32 });
    s.register(
      mp.defineMessagePackService({
        typeName: "m.M",
        request: { name: "Request", fields: { id: "id", code: "code", body: "body" } },
        response: { name: "Response", fields: { id: "id", code: "code", body: "body" } },
        methods: { get: mp.unary(Req, Req) },
      }),
      { get: (r) => r },
    );
    expect(() => registerReflection(s)).toThrow(/m\.M is encoded with MessagePack, which has no protobuf descriptors/);
  });
});
