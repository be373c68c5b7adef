import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { compileProtos, generateFrom, packageDir, protocGenEs, REPO_OPTIONS, repoRoot, runPluginOn, writeFiles } from "./helpers.js";
import { manyServices } from "./protos/many-services.js";
import { existingBinding, existingProtocol, greeter, grouped, grpcStyle } from "./protos/shapes.js";

const tsc = join(repoRoot, "node_modules", "typescript", "bin", "tsc");

function runTsc(project: string): { status: number | null; output: string } {
  const run = spawnSync(process.execPath, [tsc, "-p", project], { encoding: "utf8" });
  return { status: run.status, output: run.stdout + run.stderr };
}

describe("generated code type-checks with tsc (strict, exactOptionalPropertyTypes, noUncheckedIndexedAccess)", () => {
  it("the repository's generated tree (@protosocket/gen) and the usage checks in test/typecheck", () => {
    const { status, output } = runTsc(join(packageDir, "test", "tsconfig.json"));
    expect(output).toBe("");
    expect(status).toBe(0);
  });

  // Inline shapes, generated with protoc-gen-es beside, into a scratch dir
  // inside the package so that @protosocket/runtime resolves from the workspace.
  const scratch = mkdtempSync(join(packageDir, "test", ".tmp-typecheck-"));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  const sources = {
    "demo/v1/greeter.proto": greeter,
    "shop/v1/shop.proto": grouped,
    "legacy/v1/protocol.proto": existingProtocol,
    "bind/v1/pinger.proto": existingBinding,
    "many/v1/many.proto": manyServices(40),
    "route/v1/route.proto": grpcStyle,
    "wkt/v1/clock.proto": `syntax = "proto3";
package wkt.v1;
import "google/protobuf/empty.proto";
import "google/protobuf/timestamp.proto";
import "protosocket/v1/options.proto";
import "protosocket/v1/status.proto";
service Clock {
  // No error case: the Status case is GetURL's answer.
  option (protosocket.v1.envelope) = { request: "Req" response: "Res" error_case: "-" };
  rpc Now(google.protobuf.Empty) returns (google.protobuf.Timestamp);
  rpc Ticks(google.protobuf.Empty) returns (stream google.protobuf.Timestamp);
  rpc GetURL(google.protobuf.Empty) returns (protosocket.v1.Status) { option (protosocket.v1.method) = { response_case: "status" }; }
}
message Req { uint64 message_id = 1; uint32 control_code = 2; oneof body { google.protobuf.Empty now = 3; google.protobuf.Empty ticks = 4; google.protobuf.Empty get_url = 5; } }
message Res { uint64 message_id = 1; uint32 control_code = 2; oneof body { google.protobuf.Timestamp now = 3; google.protobuf.Timestamp ticks = 4; protosocket.v1.Status status = 5; } }
`,
  };

  it.each(["target=ts", "target=js+dts"])("inline shapes, %s, protosocket/v1 rewritten to @protosocket/runtime/gen", (target) => {
    const parameter = `${target},${REPO_OPTIONS}`;
    const protoFile = compileProtos(sources);
    const names = Object.keys(sources);
    const dir = join(scratch, target.replace(/\W/g, "_"));
    const es = runPluginOn(protocGenEs(), protoFile, names, parameter);
    expect(es.error ?? "").toBe("");
    writeFiles(dir, es.file);
    // Ours also generates the service without an envelope option (route.proto), for the standard envelope.
    const ours = generateFrom(protoFile, names, `${parameter},default_envelope=standard`);
    expect([...ours.files.keys()].length).toBe(target === "target=ts" ? 6 : 12);
    writeFiles(dir, ours.files);
    // The same use of the generated code for both targets: they declare the same shapes.
    writeFileSync(join(dir, "usage.ts"), usage);
    writeFileSync(
      join(dir, "tsconfig.json"),
      JSON.stringify({
        extends: relative(dir, join(repoRoot, "tsconfig.base.json")),
        compilerOptions: { noEmit: true, composite: false, declaration: false, sourceMap: false, rootDir: "." },
        include: ["**/*.ts"],
      }),
    );
    const { status, output } = runTsc(join(dir, "tsconfig.json"));
    expect(output).toBe("");
    expect(status).toBe(0);
    if (target !== "target=ts") {
      // The .js files parse as ES modules.
      for (const js of listFiles(dir).filter((f) => f.endsWith("_protosocket.js"))) {
        execFileSync(process.execPath, ["--check", js]);
      }
    }
  });
});

/** Uses the inline shapes' generated code as an application would. */
const usage = `import { createClient, type Server, type Transport } from "@protosocket/runtime";
import { GreeterDefinition, type GreeterClient, type GreeterHandlers } from "./demo/v1/greeter_protosocket.js";
import { ShopDefinition } from "./shop/v1/shop_protosocket.js";
import { GuideDefinition, type GuideClient, type GuideHandlers } from "./route/v1/route_protosocket.js";

// A service with no envelope option, on the standard envelope: every kind of method.
const guide: GuideHandlers = {
  getFeature: (point) => ({ name: "here", location: point }),
  async *listFeatures(point) {
    yield { name: String(point.latitude) };
  },
  async recordRoute(points) {
    let n = 0;
    for await (const _ of points) n++;
    return { points: n };
  },
  async *chat(points) {
    yield* points;
  },
};

const greeter: GreeterHandlers = {
  hello: (request) => ({ text: \`hello \${request.name}\` }),
  async *watch(request, ctx) {
    if (!ctx.signal.aborted) yield { text: request.name };
  },
};

export async function use(server: Server, transport: Transport): Promise<string> {
  server.register(GreeterDefinition, greeter);
  // @ts-expect-error every rpc needs a handler
  server.register(GuideDefinition, { getFeature: guide.getFeature });
  const route: GuideClient = createClient(GuideDefinition, transport);
  async function* twoPoints() {
    yield { latitude: 1 };
    yield { latitude: 2 };
  }
  const summary = await route.recordRoute(twoPoints());
  for await (const p of route.chat(twoPoints())) void p.longitude;
  for await (const f of route.listFeatures({ latitude: summary.points })) void f.location?.latitude;
  void (await route.getFeature({ latitude: 1 })).name;
  server.registerPartial(ShopDefinition, { get: (request) => ({ sku: request.sku }) });
  // @ts-expect-error every rpc needs a handler
  server.register(ShopDefinition, { get: (request) => ({ sku: request.sku }) });
  const client: GreeterClient = createClient(GreeterDefinition, transport);
  const shop = createClient(ShopDefinition, transport);
  const receipt = await shop.buy({ sku: "a", count: 2 });
  for await (const item of shop.browse({})) void item.sku;
  return (await client.hello({ name: "Ada" })).text + String(receipt.total);
}
`;

function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" }).map((f) => join(dir, f));
}
