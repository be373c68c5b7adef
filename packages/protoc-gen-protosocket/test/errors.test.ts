import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { CodeGeneratorRequestSchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { compileProtos, generate, packageDir } from "./helpers.js";
import { bad } from "./protos/errors.js";

const FILE = "bad/v1/bad.proto";

/** The message the plugin fails with, or "" when it does not fail. */
function failure(sources: Record<string, string>, parameter = "target=ts"): string {
  try {
    generate(sources, parameter);
    return "";
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

describe("binding errors name the file, service, method and the fix", () => {
  const E = `${FILE}: service bad.v1.S`;
  it.each([
    [
      "request envelope not found",
      { envelope: `request: "Nope" response: "Res"` },
      `${E}: request envelope message "Nope" not found; name a message defined or imported by ${FILE} (fully-qualified, or relative to package "bad.v1")`,
    ],
    [
      "response envelope not found",
      { envelope: `request: "Req" response: "bad.v1.Nope"` },
      `${E}: response envelope message "bad.v1.Nope" not found; name a message defined or imported by ${FILE} (fully-qualified, or relative to package "bad.v1")`,
    ],
    [
      "an envelope not named",
      { envelope: `request: "Req"` },
      `${E}: option (protosocket.v1.envelope) must name both envelopes: { request: "MyRequestEnvelope" response: "MyResponseEnvelope" }`,
    ],
    [
      "no id field",
      { req: "uint32 control_code = 2; oneof body { A call = 3; }" },
      `${E}: envelope bad.v1.Req has no message_id field; add one, mark the field with [(protosocket.v1.field).role = FIELD_ROLE_MESSAGE_ID], or name it with message_id_field in option (protosocket.v1.envelope)`,
    ],
    [
      "id field of the wrong type",
      { req: "uint32 message_id = 1; uint32 control_code = 2; oneof body { A call = 3; }" },
      `${E}: envelope bad.v1.Req: message id field "message_id" must be a singular uint64, e.g. "uint64 message_id = 1;"`,
    ],
    [
      "named id field missing",
      { envelope: `request: "Req" response: "Res" message_id_field: "request_id"` },
      `${E}: envelope bad.v1.Req has no field "request_id" (named by message_id_field of option (protosocket.v1.envelope))`,
    ],
    [
      "two fields marked as id",
      {
        req: "uint64 message_id = 1 [(protosocket.v1.field).role = FIELD_ROLE_MESSAGE_ID]; uint64 other = 5 [(protosocket.v1.field).role = FIELD_ROLE_MESSAGE_ID]; uint32 control_code = 2; oneof body { A call = 3; }",
      },
      `${E}: envelope bad.v1.Req marks 2 fields with role MESSAGE_ID; mark exactly one`,
    ],
    [
      "id field inside the oneof",
      { req: "uint32 control_code = 2; oneof body { A call = 3; uint64 message_id = 1; }" },
      `${E}: envelope bad.v1.Req: the message id and control code fields must not be members of a oneof`,
    ],
    [
      "no control-code field",
      { res: "uint64 message_id = 1; oneof body { B call = 3; }" },
      `${E}: envelope bad.v1.Res has no control_code field; add one, mark the field with [(protosocket.v1.field).role = FIELD_ROLE_CONTROL_CODE], or name it with control_code_field in option (protosocket.v1.envelope)`,
    ],
    [
      "control-code field of the wrong type",
      { req: "uint64 message_id = 1; int64 control_code = 2; oneof body { A call = 3; }" },
      `${E}: envelope bad.v1.Req: control code field "control_code" must be a singular uint32, e.g. "uint32 control_code = 2;"`,
    ],
    [
      "method case missing",
      { req: "uint64 message_id = 1; uint32 control_code = 2; oneof body { A other = 3; }" },
      `${E}, method Call: request envelope bad.v1.Req has no case "call" (no field "call" in bad.v1.Req); bad.v1.A is reachable as "other": write option (protosocket.v1.method) = { request_case: "other" }`,
    ],
    [
      "method case only reachable through a wrapper",
      { req: "uint64 message_id = 1; uint32 control_code = 2; oneof body { W w = 3; }", extra: "message W { oneof c { A call = 1; } }" },
      `${E}, method Call: request envelope bad.v1.Req has no case "call" (no field "call" in bad.v1.Req); bad.v1.A is reachable as "w.call": write option (protosocket.v1.method) = { request_case: "w.call" }`,
    ],
    [
      "case path through a scalar",
      { methods: `rpc Call(A) returns (B) { option (protosocket.v1.method) = { request_case: "message_id.call" }; }` },
      `${E}, method Call: request case "message_id.call": field "message_id" of bad.v1.Req is a uint64, not a message; bad.v1.A is reachable as "call": write option (protosocket.v1.method) = { request_case: "call" }`,
    ],
    [
      "case path not reachable",
      { methods: `rpc Call(A) returns (B) { option (protosocket.v1.method) = { request_case: "call.nested" }; }` },
      `${E}, method Call: request envelope bad.v1.Req has no case "call.nested" (no field "nested" in bad.v1.A); bad.v1.A is reachable as "call": write option (protosocket.v1.method) = { request_case: "call" }`,
    ],
    [
      "case of the wrong type",
      { res: "uint64 message_id = 1; uint32 control_code = 2; oneof body { A call = 3; protosocket.v1.Status error = 15; }" },
      `${E}, method Call: response case "call" of bad.v1.Res has type bad.v1.A, but the method's output is bad.v1.B; add a case "bad.v1.B call = N;" to the response envelope's oneof, or name an existing one with option (protosocket.v1.method) = { response_case: "..." }`,
    ],
    [
      "error case without code",
      {
        res: "uint64 message_id = 1; uint32 control_code = 2; oneof body { B call = 3; E err = 4 [(protosocket.v1.field).role = FIELD_ROLE_ERROR]; }",
        extra: "message E { string message = 2; }",
      },
      `${E}: error case "err" has type bad.v1.E, which needs a "code" field (an integer, or an enum with the gRPC code numbers); add "int32 code = N;" or use protosocket.v1.Status`,
    ],
    [
      "error case without a string message",
      {
        envelope: `request: "Req" response: "Res" error_case: "err"`,
        res: "uint64 message_id = 1; uint32 control_code = 2; oneof body { B call = 3; E err = 4; }",
        extra: "message E { int32 code = 1; bytes message = 2; }",
      },
      `${E}: error case "err" has type bad.v1.E, which needs a "string message" field; add "string message = N;" or use protosocket.v1.Status`,
    ],
    [
      "no error case, and error_case not given",
      { res: "uint64 message_id = 1; uint32 control_code = 2; oneof body { B call = 3; }" },
      `${E}: response envelope bad.v1.Res has no case of type protosocket.v1.Status and no field marked [(protosocket.v1.field).role = FIELD_ROLE_ERROR]: name the case that carries errors with error_case: "<case>" in option (protosocket.v1.envelope), or write error_case: "-" if the protocol has none (a failed handler then answers Cancel)`,
    ],
    [
      "an error case of the protocol's own type, not named",
      {
        res: "uint64 message_id = 1; uint32 control_code = 2; oneof body { B call = 3; CommandError error = 4; }",
        extra: "message CommandError { int32 code = 1; string message = 2; }",
      },
      `${E}: response envelope bad.v1.Res has no case of type protosocket.v1.Status and no field marked [(protosocket.v1.field).role = FIELD_ROLE_ERROR]: name the case that carries errors ("error", with a code and a message, looks like one) with error_case: "<case>" in option (protosocket.v1.envelope), or write error_case: "-" if the protocol has none (a failed handler then answers Cancel)`,
    ],
    [
      "a method answering in the error case",
      {
        methods: `rpc Call(A) returns (B); rpc Error(A) returns (protosocket.v1.Status) { option (protosocket.v1.method) = { request_case: "call" }; }`,
      },
      `${E}, method Error: response case "error" is the envelope's error case; give the method a case of its own`,
    ],
    [
      "two methods of one service on one case",
      {
        methods: `rpc Call(A) returns (B); rpc Again(A) returns (B) { option (protosocket.v1.method) = { request_case: "call" response_case: "call" }; }`,
      },
      `${E}, method Again: request case "call" clashes with method Call's "call": the server could not tell the two apart; give each method its own case with option (protosocket.v1.method) = { request_case: "..." }`,
    ],
    [
      "metadata field of the wrong type, named by the option",
      {
        envelope: `request: "Req" response: "Res" metadata_field: "headers"`,
        req: "uint64 message_id = 1; uint32 control_code = 2; oneof body { A call = 3; } repeated string headers = 6;",
      },
      `${E}: envelope bad.v1.Req: metadata field "headers" must be a map<string, string>, e.g. "map<string, string> headers = 6;"`,
    ],
    [
      "metadata field of the wrong type, marked with the role",
      {
        req: "uint64 message_id = 1; uint32 control_code = 2; oneof body { A call = 3; } map<string, int32> md = 6 [(protosocket.v1.field).role = FIELD_ROLE_METADATA];",
      },
      `${E}: envelope bad.v1.Req: metadata field "md" must be a map<string, string>, e.g. "map<string, string> md = 6;"`,
    ],
    [
      "deadline field of the wrong type",
      {
        envelope: `request: "Req" response: "Res" deadline_field: "deadline"`,
        req: "uint64 message_id = 1; uint32 control_code = 2; oneof body { A call = 3; } int64 deadline = 6;",
      },
      `${E}: envelope bad.v1.Req: deadline field "deadline" must be a singular uint64 of milliseconds, e.g. "uint64 deadline = 6;"`,
    ],
    [
      "a deadline role on the response envelope",
      {
        res: "uint64 message_id = 1; uint32 control_code = 2; oneof body { B call = 3; protosocket.v1.Status error = 15; } uint64 until = 6 [(protosocket.v1.field).role = FIELD_ROLE_DEADLINE];",
      },
      `${E}: envelope bad.v1.Res: field "until" has role FIELD_ROLE_DEADLINE, which only a request envelope may have`,
    ],
    [
      "named metadata field missing",
      { envelope: `request: "Req" response: "Res" metadata_field: "headers"` },
      `${E}: envelope bad.v1.Req has no field "headers" (named by metadata_field of option (protosocket.v1.envelope))`,
    ],
  ])("%s", (_, opts, message) => {
    expect(failure({ [FILE]: bad(opts) })).toBe(message);
  });
});

describe("services sharing a request envelope", () => {
  const envelopes = `
message M {}
message Req { uint64 message_id = 1; uint32 control_code = 2; oneof body { M get = 3; M put = 4; } }
message Res { uint64 message_id = 1; uint32 control_code = 2; oneof body { M get = 3; M put = 4; } }
`;
  const service = (name: string, methods: string) =>
    `service ${name} {\n  option (protosocket.v1.envelope) = { request: "shared.v1.Req" response: "shared.v1.Res" error_case: "-" };\n  ${methods}\n}\n`;
  const file = (pkg: string, body: string, imports = "") =>
    `syntax = "proto3";\npackage ${pkg};\nimport "protosocket/v1/options.proto";\n${imports}${body}`;

  it("generate when their cases differ", () => {
    const { files } = generate({
      "shared/v1/shared.proto": file(
        "shared.v1",
        envelopes + service("Reader", "rpc Get(M) returns (M);") + service("Writer", "rpc Put(M) returns (M);"),
      ),
    });
    expect([...files.keys()]).toEqual(["shared/v1/shared_protosocket.ts"]);
  });

  it("fail when two services in one file use one case", () => {
    expect(
      failure({
        "shared/v1/shared.proto": file(
          "shared.v1",
          envelopes +
            service("Reader", "rpc Get(M) returns (M);") +
            service(
              "Mirror",
              `rpc Fetch(M) returns (M) { option (protosocket.v1.method) = { request_case: "get" response_case: "get" }; }`,
            ),
        ),
      }),
    ).toBe(
      `shared/v1/shared.proto: service shared.v1.Mirror, method Fetch: request case "get" clashes with "get" of method Get of service shared.v1.Reader (shared/v1/shared.proto), which shares the request envelope shared.v1.Req: a server serving both could not tell them apart; give one of the methods its own case in the envelope and name it with option (protosocket.v1.method) = { request_case: "..." }, or bind the services to separate envelopes`,
    );
  });

  it("fail when they read the id and control code from different fields", () => {
    const withAltId = envelopes.replace(/oneof body/g, "uint64 alt_id = 5; oneof body");
    expect(
      failure({
        "shared/v1/shared.proto": file(
          "shared.v1",
          withAltId +
            service("Reader", "rpc Get(M) returns (M);") +
            service("Writer", "rpc Put(M) returns (M);").replace(
              `response: "shared.v1.Res"`,
              `response: "shared.v1.Res" message_id_field: "alt_id"`,
            ),
        ),
      }),
    ).toMatch(
      /^shared\/v1\/shared\.proto: service shared\.v1\.Writer: reads the message id and control code of the request envelope shared\.v1\.Req from alt_id = 5, control_code = 2, but service shared\.v1\.Reader \(shared\/v1\/shared\.proto\), which shares it, reads them from message_id = 1, control_code = 2;/,
    );
  });

  it("fail when services in different files use one case", () => {
    expect(
      failure({
        "shared/v1/shared.proto": file("shared.v1", envelopes + service("Reader", "rpc Get(M) returns (M);")),
        "other/v1/other.proto": file(
          "other.v1",
          service("Copier", "rpc Get(shared.v1.M) returns (shared.v1.M);"),
          `import "shared/v1/shared.proto";\n`,
        ),
      }),
    ).toBe(
      `other/v1/other.proto: service other.v1.Copier, method Get: request case "get" clashes with "get" of method Get of service shared.v1.Reader (shared/v1/shared.proto), which shares the request envelope shared.v1.Req: a server serving both could not tell them apart; give one of the methods its own case in the envelope and name it with option (protosocket.v1.method) = { request_case: "..." }, or bind the services to separate envelopes`,
    );
  });
});

describe("unbound services", () => {
  const mixed = `syntax = "proto3";
package mixed.v1;
import "protosocket/v1/options.proto";
service Plain { rpc Call(M) returns (M); }
service Bound { option (protosocket.v1.envelope) = { request: "Req" response: "Res" error_case: "-" }; rpc Call(M) returns (M); }
message M {}
message Req { uint64 message_id = 1; uint32 control_code = 2; oneof body { M call = 3; } }
message Res { uint64 message_id = 1; uint32 control_code = 2; oneof body { M call = 3; } }
`;
  const plainOnly = `syntax = "proto3";\npackage plain.v1;\nservice Other { rpc Call(M) returns (M); }\nmessage M {}\n`;

  it("are skipped with a warning naming them; bound services beside them generate", () => {
    const { files, warnings } = generate({ "mixed/v1/mixed.proto": mixed, "plain/v1/plain.proto": plainOnly });
    expect([...files.keys()]).toEqual(["mixed/v1/mixed_protosocket.ts"]);
    expect(files.get("mixed/v1/mixed_protosocket.ts")).not.toContain("Plain");
    expect(warnings).toEqual([
      "protoc-gen-protosocket: skipping service mixed.v1.Plain: no (protosocket.v1.envelope) option (mixed/v1/mixed.proto); add default_envelope=standard to generate it for the standard envelope",
      "protoc-gen-protosocket: skipping service plain.v1.Other: no (protosocket.v1.envelope) option (plain/v1/plain.proto); add default_envelope=standard to generate it for the standard envelope",
    ]);
  });

  it("are warned about once for target=js+dts", () => {
    const { files, warnings } = generate({ "plain/v1/plain.proto": plainOnly }, "target=js+dts");
    expect(files.size).toBe(0);
    expect(warnings).toHaveLength(1);
  });

  it("are skipped silently with unbound_services=ignore", () => {
    const { files, warnings } = generate({ "mixed/v1/mixed.proto": mixed }, "target=ts,unbound_services=ignore");
    expect(files.size).toBe(1);
    expect(warnings).toEqual([]);
  });

  it("are errors with unbound_services=error", () => {
    expect(failure({ "mixed/v1/mixed.proto": mixed, "plain/v1/plain.proto": plainOnly }, "target=ts,unbound_services=error")).toBe(
      [
        "2 binding errors:",
        `mixed/v1/mixed.proto: service mixed.v1.Plain: no (protosocket.v1.envelope) option; bind it with option (protosocket.v1.envelope) = { request: "MyRequestEnvelope" response: "MyResponseEnvelope" }; or add default_envelope=standard to generate it for the standard envelope, or drop unbound_services=error to skip such services`,
        `plain/v1/plain.proto: service plain.v1.Other: no (protosocket.v1.envelope) option; bind it with option (protosocket.v1.envelope) = { request: "MyRequestEnvelope" response: "MyResponseEnvelope" }; or add default_envelope=standard to generate it for the standard envelope, or drop unbound_services=error to skip such services`,
      ].join("\n"),
    );
  });

  it("are generated for the standard envelope with default_envelope=standard, beside bound ones, with no warning", () => {
    const { files, warnings } = generate(
      { "mixed/v1/mixed.proto": mixed, "plain/v1/plain.proto": plainOnly },
      "target=ts,default_envelope=standard,unbound_services=error",
    );
    expect(warnings).toEqual([]);
    expect([...files.keys()]).toEqual(["mixed/v1/mixed_protosocket.ts", "plain/v1/plain_protosocket.ts"]);
    const definitions = (name: string) => (files.get(name) ?? "").split("\n").filter((l) => l.startsWith("export const "));
    expect(definitions("mixed/v1/mixed_protosocket.ts")).toEqual([
      "export const PlainDefinition: ServiceDefinition<typeof Plain> = /*@__PURE__*/ defineStandardService(Plain);",
      "export const BoundDefinition: ServiceDefinition<typeof Bound> = /*@__PURE__*/ defineService(Bound);",
    ]);
    expect(definitions("plain/v1/plain_protosocket.ts")).toEqual([
      "export const OtherDefinition: ServiceDefinition<typeof Other> = /*@__PURE__*/ defineStandardService(Other);",
    ]);
  });

  it("with default_envelope=standard, warn about client and bidi streaming as for bound services", () => {
    const streams = `syntax = "proto3";\npackage s.v1;\nservice Up { rpc Send(stream M) returns (M); rpc Talk(stream M) returns (stream M); }\nmessage M {}\n`;
    const { files, warnings } = generate({ "s/v1/s.proto": streams }, "target=ts,default_envelope=standard");
    expect(files.size).toBe(1);
    expect(warnings).toEqual([
      "protoc-gen-protosocket: s/v1/s.proto: service s.v1.Up, method Send: client streaming is an extension of protosocket-ts: Rust protosocket-rpc peers can neither serve nor call it",
      "protoc-gen-protosocket: s/v1/s.proto: service s.v1.Up, method Talk: bidi streaming is an extension of protosocket-ts: Rust protosocket-rpc peers can neither serve nor call it",
    ]);
  });
});

describe("plugin options", () => {
  const src = { [FILE]: bad({}) };
  it("accept the standard protoplugin options", () => {
    expect(
      failure(
        src,
        "target=js+dts,import_extension=js,js_import_style=module,ts_nocheck=true,keep_empty_files=false,elide_plugin_version=true",
      ),
    ).toBe("");
  });
  it("reject unknown options", () => {
    expect(failure(src, "target=ts,unbound=error")).toBe(
      `invalid option "unbound=error": unknown option "unbound"; protoc-gen-protosocket accepts unbound_services=warn|error|ignore, default_envelope=none|standard and the standard protoplugin options (target, import_extension, js_import_style, rewrite_imports, ts_nocheck, keep_empty_files, elide_plugin_version)`,
    );
  });
  it("reject bad values", () => {
    expect(failure(src, "unbound_services=fail")).toBe(
      `invalid option "unbound_services=fail": unbound_services must be warn, error or ignore, not "fail"`,
    );
    expect(failure(src, "default_envelope=grpc")).toBe(
      `invalid option "default_envelope=grpc": default_envelope must be none or standard, not "grpc"`,
    );
  });
});

describe("reports every broken service at once", () => {
  it("one line each", () => {
    const msg = failure({
      [FILE]: bad({ methods: "rpc Call(A) returns (B); rpc Other(A) returns (B);" }),
      "bad/v1/worse.proto": bad({ envelope: `request: "Nope" response: "Res"` }).replace("package bad.v1;", "package worse.v1;"),
    });
    expect(msg.split("\n")).toEqual([
      "2 binding errors:",
      expect.stringMatching(/^bad\/v1\/bad\.proto: service bad\.v1\.S, method Other: request envelope bad\.v1\.Req has no case "other"/),
      expect.stringMatching(/^bad\/v1\/worse\.proto: service worse\.v1\.S: request envelope message "Nope" not found/),
    ]);
  });
});

describe("the protoc-gen-protosocket executable", () => {
  const bin = join(packageDir, "bin", "protoc-gen-protosocket");
  const built = existsSync(join(packageDir, "dist", "index.js"));

  it.skipIf(!built)("exits 1 with the binding error on stderr and writes no response", () => {
    const protoFile = compileProtos({ [FILE]: bad({ methods: "rpc Call(A) returns (B); rpc Other(A) returns (B);" }) });
    const req = create(CodeGeneratorRequestSchema, { fileToGenerate: [FILE], parameter: "target=ts", protoFile });
    const run = spawnSync(process.execPath, [bin], { input: toBinary(CodeGeneratorRequestSchema, req) });
    expect(run.status).toBe(1);
    expect(run.stdout.length).toBe(0);
    expect(run.stderr.toString()).toBe(
      `protoc-gen-protosocket: ${FILE}: service bad.v1.S, method Other: request envelope bad.v1.Req has no case "other" (no field "other" in bad.v1.Req); bad.v1.A is reachable as "call": write option (protosocket.v1.method) = { request_case: "call" }\n`,
    );
  });

  it.skipIf(!built)("prints its version", () => {
    const run = spawnSync(process.execPath, [bin, "--version"]);
    expect(run.status).toBe(0);
    expect(run.stdout.toString()).toMatch(/^protoc-gen-protosocket v\d+\.\d+\.\d+\n$/);
  });
});
