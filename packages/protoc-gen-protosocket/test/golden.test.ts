import { create, createFileRegistry } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { defineService, type ServiceDefinition } from "@protosocket/runtime/protocol";
import { describe, expect, it } from "vitest";
import { compileProtos, generate } from "./helpers.js";
import { existingBinding, existingProtocol, greeter, grouped, grpcStyle } from "./protos/shapes.js";

/** The line that defines the first service of a generated file. */
function definition(content: string): string {
  return content.split("\n").find((l) => l.startsWith("export const ")) ?? "";
}

/** The definition of service `typeName` as the runtime makes it from `sources`' descriptors. */
function load(sources: Record<string, string>, typeName: string): ServiceDefinition {
  const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: compileProtos(sources) }));
  const service = registry.getService(typeName);
  if (service === undefined) throw new Error(`no service ${typeName}`);
  return defineService(service);
}

/** The import lines of a generated file. */
function imports(content: string): string[] {
  return content.split("\n").filter((l) => l.startsWith("import "));
}

describe("exact output", () => {
  // The full files of the smallest service, for each target. Regenerate the
  // goldens with `npx vitest run packages/protoc-gen-protosocket -u` and review the diff.
  it.each([
    ["target=ts", ["greeter_protosocket.ts"]],
    ["target=js+dts", ["greeter_protosocket.js", "greeter_protosocket.d.ts"]],
  ])("%s", async (parameter, names) => {
    const { files, warnings } = generate({ "demo/v1/greeter.proto": greeter }, parameter);
    expect(warnings).toEqual([]);
    expect([...files.keys()]).toEqual(names.map((n) => `demo/v1/${n}`));
    for (const name of names) {
      await expect(files.get(`demo/v1/${name}`)).toMatchFileSnapshot(`__golden__/${name}.golden`);
    }
  });

  // A service with no envelope option, for the standard envelope.
  it.each([
    ["target=ts,default_envelope=standard", ["route_protosocket.ts"]],
    ["target=js+dts,default_envelope=standard", ["route_protosocket.js", "route_protosocket.d.ts"]],
  ])("%s", async (parameter, names) => {
    const { files, warnings } = generate({ "route/v1/route.proto": grpcStyle }, parameter);
    expect(warnings).toHaveLength(2); // client and bidi streaming: an extension of protosocket-ts
    expect([...files.keys()]).toEqual(names.map((n) => `route/v1/${n}`));
    for (const name of names) {
      await expect(files.get(`route/v1/${name}`)).toMatchFileSnapshot(`__golden__/${name}.golden`);
    }
  });

  it("binds a grouped request envelope, an enum-coded error type and roles at other field numbers at load time", () => {
    const { files } = generate({ "shop/v1/shop.proto": grouped });
    expect(definition(files.get("shop/v1/shop_protosocket.ts") ?? "")).toBe(
      "export const ShopDefinition: ServiceDefinition<typeof Shop> = /*@__PURE__*/ defineService(Shop);",
    );
    const step = (name: string, number: number, oneof: string) => ({ name, localName: name, number, oneof });
    const ids = { id: { name: "seq", localName: "seq", number: 7 }, code: { name: "ctl", localName: "ctl", number: 9 } };
    const at = (path: string, typeName: string, ...steps: ReturnType<typeof step>[]) => ({ path, steps, typeName });
    const method = (name: string, kind: string, request: ReturnType<typeof at>, response: ReturnType<typeof at>) => ({
      name,
      localName: name.toLowerCase(),
      kind,
      inputType: request.typeName,
      outputType: response.typeName,
      request,
      response,
    });
    const item = at("get", "shop.v1.Item", step("get", 1, "kind"));
    expect(load({ "shop/v1/shop.proto": grouped }, "shop.v1.Shop").binding).toEqual({
      typeName: "shop.v1.Shop",
      request: { typeName: "shop.v1.Request", ...ids },
      response: {
        typeName: "shop.v1.Response",
        ...ids,
        error: {
          path: "problem",
          steps: [step("problem", 3, "kind")],
          typeName: "shop.v1.Problem",
          isStatus: false,
          codeField: "code",
          messageField: "message",
        },
      },
      methods: [
        method("Get", "unary", at("unary.get", "shop.v1.GetItem", step("unary", 1, "kind"), step("get", 1, "command")), item),
        method(
          "Buy",
          "unary",
          at("unary.buy", "shop.v1.BuyItem", step("unary", 1, "kind"), step("buy", 2, "command")),
          at("receipt", "shop.v1.Receipt", step("receipt", 2, "kind")),
        ),
        method("Browse", "server_streaming", at("browse", "shop.v1.BrowseItems", step("browse", 2, "kind")), item),
      ],
    });
  });

  it("binds a service in a file of its own to envelopes of a file it imports, which gets no output", () => {
    const sources = { "legacy/v1/protocol.proto": existingProtocol, "bind/v1/pinger.proto": existingBinding };
    const { files, warnings } = generate(sources);
    expect(warnings).toEqual([]);
    expect([...files.keys()]).toEqual(["bind/v1/pinger_protosocket.ts"]);
    const content = files.get("bind/v1/pinger_protosocket.ts") ?? "";
    // The envelopes are found through the imports of pinger.proto's embedded descriptor.
    expect(imports(content)).toEqual([
      `import type { Client, ServiceDefinition, ServiceImpl } from "@protosocket/runtime";`,
      `import { Pinger } from "./pinger_pb";`,
      `import { defineService } from "@protosocket/runtime/protocol";`,
    ]);
    const { binding } = load(sources, "bind.v1.Pinger");
    expect(binding.request).toEqual({
      typeName: "legacy.v1.Request",
      id: { name: "request_id", localName: "requestId", number: 1 },
      code: { name: "code", localName: "code", number: 2 },
    });
    expect(binding.response.typeName).toBe("legacy.v1.Response");
    expect(binding.response.error).toBeUndefined();
    expect(binding.methods.map((m) => [m.name, m.request.path, m.response.typeName])).toEqual([["Ping", "ping", "legacy.v1.Pong"]]);
  });

  it("generates the envelope's file alone when only it is asked for: nothing", () => {
    const { files } = generate({ "legacy/v1/protocol.proto": existingProtocol, "bind/v1/pinger.proto": existingBinding }, "target=ts", [
      "legacy/v1/protocol.proto",
    ]);
    expect(files.size).toBe(0);
  });
});

describe("options", () => {
  it("passes import_extension and rewrite_imports through to every import", () => {
    const { files } = generate(
      { "legacy/v1/protocol.proto": existingProtocol, "bind/v1/pinger.proto": existingBinding },
      "target=ts,import_extension=js,rewrite_imports=./bind/**/*_pb.js:@acme/protos",
    );
    expect(imports(files.get("bind/v1/pinger_protosocket.ts") ?? "")).toEqual([
      `import type { Client, ServiceDefinition, ServiceImpl } from "@protosocket/runtime";`,
      `import { Pinger } from "@acme/protos/bind/v1/pinger_pb.js";`,
      `import { defineService } from "@protosocket/runtime/protocol";`,
    ]);
  });

  it("imports only the service, whatever its messages are (well-known types here)", () => {
    const { files } = generate({
      "wkt/v1/clock.proto": `syntax = "proto3";
package wkt.v1;
import "google/protobuf/empty.proto";
import "google/protobuf/timestamp.proto";
import "protosocket/v1/options.proto";
service Clock {
  option (protosocket.v1.envelope) = { request: "Req" response: "Res" error_case: "-" };
  rpc Now(google.protobuf.Empty) returns (google.protobuf.Timestamp);
}
message Req { uint64 message_id = 1; uint32 control_code = 2; oneof body { google.protobuf.Empty now = 3; } }
message Res { uint64 message_id = 1; uint32 control_code = 2; oneof body { google.protobuf.Timestamp now = 3; } }
`,
    });
    const content = files.get("wkt/v1/clock_protosocket.ts") ?? "";
    expect(imports(content).filter((l) => !l.includes("@protosocket/runtime"))).toEqual([`import { Clock } from "./clock_pb";`]);
  });

  it("generates every bound service of a file, in order, and names each", () => {
    const { files } = generate({
      "two/v1/two.proto": `syntax = "proto3";
package two.v1;
import "protosocket/v1/options.proto";
service Alpha { option (protosocket.v1.envelope) = { request: "Req" response: "Res" error_case: "-" }; rpc A(M) returns (M); }
service Beta { option (protosocket.v1.envelope) = { request: "Req" response: "Res" error_case: "-" }; rpc B(M) returns (M); }
message M {}
message Req { uint64 message_id = 1; uint32 control_code = 2; oneof body { M a = 3; M b = 4; } }
message Res { uint64 message_id = 1; uint32 control_code = 2; oneof body { M a = 3; M b = 4; } }
`,
    });
    const exported = (files.get("two/v1/two_protosocket.ts") ?? "")
      .split("\n")
      .flatMap((l) => /^export (?:const|type) (\w+)/.exec(l)?.[1] ?? []);
    expect(exported).toEqual(["AlphaDefinition", "AlphaClient", "AlphaHandlers", "BetaDefinition", "BetaClient", "BetaHandlers"]);
  });

  it("renames an imported service whose name collides with a generated one", () => {
    const { files } = generate({
      "clash/v1/clash.proto": `syntax = "proto3";
package clash.v1;
import "protosocket/v1/options.proto";
service Store { option (protosocket.v1.envelope) = { request: "Req" response: "Res" error_case: "-" }; rpc Get(M) returns (M); }
service StoreClient { option (protosocket.v1.envelope) = { request: "Req" response: "Res" error_case: "-" }; rpc Put(M) returns (M); }
message M {}
message Req { uint64 message_id = 1; uint32 control_code = 2; oneof body { M get = 3; M put = 4; } }
message Res { uint64 message_id = 1; uint32 control_code = 2; oneof body { M get = 3; M put = 4; } }
`,
    });
    const content = files.get("clash/v1/clash_protosocket.ts") ?? "";
    expect(imports(content)).toContain(`import { Store, StoreClient as StoreClient$1 } from "./clash_pb";`);
    expect(content).toContain("export type StoreClient = Client<typeof Store>;");
    expect(content).toContain(
      "export const StoreClientDefinition: ServiceDefinition<typeof StoreClient$1> = /*@__PURE__*/ defineService(StoreClient$1);",
    );
  });
});
