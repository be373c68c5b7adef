import { describe, expect, it } from "vitest";
import { generate } from "./helpers.js";
import { existingBinding, existingProtocol, greeter, grouped } from "./protos/shapes.js";

/** The `defineService(...)` call of a generated file, from `export const` to `);`. */
function definition(content: string): string {
  const start = content.indexOf("export const ");
  const end = content.indexOf("\n);\n", start);
  return content.substring(start, end + 3);
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

  it("compiles a grouped request envelope, an enum-coded error type and roles at other field numbers into the binding", () => {
    const { files } = generate({ "shop/v1/shop.proto": grouped });
    expect(definition(files.get("shop/v1/shop_protosocket.ts") ?? "")).toBe(`export const ShopDefinition: ServiceDefinition<typeof Shop> = defineService(
  Shop,
  RequestSchema,
  ResponseSchema,
  {
    typeName: "shop.v1.Shop",
    request: {
      typeName: "shop.v1.Request",
      id: { name: "seq", localName: "seq", number: 7 },
      code: { name: "ctl", localName: "ctl", number: 9 },
    },
    response: {
      typeName: "shop.v1.Response",
      id: { name: "seq", localName: "seq", number: 7 },
      code: { name: "ctl", localName: "ctl", number: 9 },
      error: {
        path: "problem",
        steps: [{ name: "problem", localName: "problem", number: 3, oneof: "kind" }],
        typeName: "shop.v1.Problem",
        isStatus: false,
        codeField: "code",
        messageField: "message",
      },
    },
    methods: [
      {
        name: "Get",
        localName: "get",
        kind: "unary",
        inputType: "shop.v1.GetItem",
        outputType: "shop.v1.Item",
        request: {
          path: "unary.get",
          steps: [
            { name: "unary", localName: "unary", number: 1, oneof: "kind" },
            { name: "get", localName: "get", number: 1, oneof: "command" },
          ],
          typeName: "shop.v1.GetItem",
        },
        response: {
          path: "get",
          steps: [{ name: "get", localName: "get", number: 1, oneof: "kind" }],
          typeName: "shop.v1.Item",
        },
      },
      {
        name: "Buy",
        localName: "buy",
        kind: "unary",
        inputType: "shop.v1.BuyItem",
        outputType: "shop.v1.Receipt",
        request: {
          path: "unary.buy",
          steps: [
            { name: "unary", localName: "unary", number: 1, oneof: "kind" },
            { name: "buy", localName: "buy", number: 2, oneof: "command" },
          ],
          typeName: "shop.v1.BuyItem",
        },
        response: {
          path: "receipt",
          steps: [{ name: "receipt", localName: "receipt", number: 2, oneof: "kind" }],
          typeName: "shop.v1.Receipt",
        },
      },
      {
        name: "Browse",
        localName: "browse",
        kind: "server_streaming",
        inputType: "shop.v1.BrowseItems",
        outputType: "shop.v1.Item",
        request: {
          path: "browse",
          steps: [{ name: "browse", localName: "browse", number: 2, oneof: "kind" }],
          typeName: "shop.v1.BrowseItems",
        },
        response: {
          path: "get",
          steps: [{ name: "get", localName: "get", number: 1, oneof: "kind" }],
          typeName: "shop.v1.Item",
        },
      },
    ],
  },
);`);
  });

  it("binds a service in a file of its own to envelopes of a file it imports, which gets no output", () => {
    const { files, warnings } = generate({ "legacy/v1/protocol.proto": existingProtocol, "bind/v1/pinger.proto": existingBinding });
    expect(warnings).toEqual([]);
    expect([...files.keys()]).toEqual(["bind/v1/pinger_protosocket.ts"]);
    const content = files.get("bind/v1/pinger_protosocket.ts") ?? "";
    expect(imports(content)).toEqual([
      `import type { CallOptions, HandlerContext, Server, ServiceDefinition, Transport } from "@protosocket/runtime";`,
      `import { createClient } from "@protosocket/runtime";`,
      `import { Pinger } from "./pinger_pb";`,
      `import { defineService } from "@protosocket/runtime/protocol";`,
      `import type { Ping, PingSchema, Pong, PongSchema } from "../../legacy/v1/protocol_pb";`,
      `import { RequestSchema, ResponseSchema } from "../../legacy/v1/protocol_pb";`,
      `import type { MessageInitShape } from "@bufbuild/protobuf";`,
    ]);
    expect(definition(content)).toBe(`export const PingerDefinition: ServiceDefinition<typeof Pinger> = defineService(
  Pinger,
  RequestSchema,
  ResponseSchema,
  {
    typeName: "bind.v1.Pinger",
    request: {
      typeName: "legacy.v1.Request",
      id: { name: "request_id", localName: "requestId", number: 1 },
      code: { name: "code", localName: "code", number: 2 },
    },
    response: {
      typeName: "legacy.v1.Response",
      id: { name: "request_id", localName: "requestId", number: 1 },
      code: { name: "code", localName: "code", number: 2 },
    },
    methods: [
      {
        name: "Ping",
        localName: "ping",
        kind: "unary",
        inputType: "legacy.v1.Ping",
        outputType: "legacy.v1.Pong",
        request: {
          path: "ping",
          steps: [{ name: "ping", localName: "ping", number: 3, oneof: "body" }],
          typeName: "legacy.v1.Ping",
        },
        response: {
          path: "ping",
          steps: [{ name: "ping", localName: "ping", number: 3, oneof: "body" }],
          typeName: "legacy.v1.Pong",
        },
      },
    ],
  },
);`);
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
      "target=ts,import_extension=js,rewrite_imports=./legacy/**/*_pb.js:@acme/legacy-protos",
    );
    expect(imports(files.get("bind/v1/pinger_protosocket.ts") ?? "").filter((l) => l.includes("_pb"))).toEqual([
      `import { Pinger } from "./pinger_pb.js";`,
      `import type { Ping, PingSchema, Pong, PongSchema } from "@acme/legacy-protos/legacy/v1/protocol_pb.js";`,
      `import { RequestSchema, ResponseSchema } from "@acme/legacy-protos/legacy/v1/protocol_pb.js";`,
    ]);
  });

  it("imports well-known types from @bufbuild/protobuf/wkt", () => {
    const { files } = generate({
      "wkt/v1/clock.proto": `syntax = "proto3";
package wkt.v1;
import "google/protobuf/empty.proto";
import "google/protobuf/timestamp.proto";
import "protosocket/v1/options.proto";
service Clock {
  option (protosocket.v1.envelope) = { request: "Req" response: "Res" };
  rpc Now(google.protobuf.Empty) returns (google.protobuf.Timestamp);
}
message Req { uint64 message_id = 1; uint32 control_code = 2; oneof body { google.protobuf.Empty now = 3; } }
message Res { uint64 message_id = 1; uint32 control_code = 2; oneof body { google.protobuf.Timestamp now = 3; } }
`,
    });
    const content = files.get("wkt/v1/clock_protosocket.ts") ?? "";
    expect(imports(content)).toContain(`import type { Empty, EmptySchema, Timestamp, TimestampSchema } from "@bufbuild/protobuf/wkt";`);
    expect(content).toContain("now(request: MessageInitShape<typeof EmptySchema>, options?: CallOptions): Promise<Timestamp>;");
  });

  it("generates every bound service of a file, in order, and names each", () => {
    const { files } = generate({
      "two/v1/two.proto": `syntax = "proto3";
package two.v1;
import "protosocket/v1/options.proto";
service Alpha { option (protosocket.v1.envelope) = { request: "Req" response: "Res" }; rpc A(M) returns (M); }
service Beta { option (protosocket.v1.envelope) = { request: "Req" response: "Res" }; rpc B(M) returns (M); }
message M {}
message Req { uint64 message_id = 1; uint32 control_code = 2; oneof body { M a = 3; M b = 4; } }
message Res { uint64 message_id = 1; uint32 control_code = 2; oneof body { M a = 3; M b = 4; } }
`,
    });
    const exported = (files.get("two/v1/two_protosocket.ts") ?? "").split("\n").flatMap((l) => /^export (?:const|interface|function) (\w+)/.exec(l)?.[1] ?? []);
    expect(exported).toEqual([
      "AlphaDefinition",
      "AlphaClient",
      "createAlphaClient",
      "AlphaHandlers",
      "registerAlpha",
      "registerAlphaPartial",
      "BetaDefinition",
      "BetaClient",
      "createBetaClient",
      "BetaHandlers",
      "registerBeta",
      "registerBetaPartial",
    ]);
  });

  it("renames an imported message whose name collides with a generated one", () => {
    const { files } = generate({
      "clash/v1/clash.proto": `syntax = "proto3";
package clash.v1;
import "protosocket/v1/options.proto";
service Store {
  option (protosocket.v1.envelope) = { request: "Req" response: "Res" };
  rpc Get(StoreClient) returns (StoreHandlers);
}
message StoreClient {}
message StoreHandlers {}
message Req { uint64 message_id = 1; uint32 control_code = 2; oneof body { StoreClient get = 3; } }
message Res { uint64 message_id = 1; uint32 control_code = 2; oneof body { StoreHandlers get = 3; } }
`,
    });
    const content = files.get("clash/v1/clash_protosocket.ts") ?? "";
    expect(imports(content)).toContain(`import type { StoreClient as StoreClient$1, StoreClientSchema, StoreHandlers as StoreHandlers$1, StoreHandlersSchema } from "./clash_pb";`);
    expect(content).toContain("get(request: StoreClient$1, ctx: HandlerContext)");
  });
});
