/**
 * Loading schemas: --proto with and without -I (the protosocket option protos
 * found without being named), --image, and the errors for each mistake.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CliError } from "../src/exit-codes.js";
import { loadSchema } from "../src/schema/load-schema.js";
import { fixtureRoot, repoRoot, runInProcess } from "./support/cli.js";

let dir: string;

beforeAll(() => {
  // A user's project outside the repository: protos in proto/, one import from another directory.
  dir = mkdtempSync(join(tmpdir(), "protosocket-cli-schema-"));
  mkdirSync(join(dir, "proto/acme/v1"), { recursive: true });
  mkdirSync(join(dir, "vendor/shared/v1"), { recursive: true });
  writeFileSync(join(dir, "vendor/shared/v1/shared.proto"), 'syntax = "proto3";\npackage shared.v1;\nmessage Ping { string text = 1; }\n');
  writeFileSync(
    join(dir, "proto/acme/v1/acme.proto"),
    `syntax = "proto3";
package acme.v1;
import "protosocket/v1/options.proto";
import "shared/v1/shared.proto";
service AcmeService {
  option (protosocket.v1.envelope) = { request: "Req" response: "Res" error_case: "-" };
  rpc Ping(shared.v1.Ping) returns (shared.v1.Ping);
}
message Req { uint64 message_id = 1; uint32 control_code = 2; oneof body { shared.v1.Ping ping = 3; } }
message Res { uint64 message_id = 1; uint32 control_code = 2; oneof body { shared.v1.Ping ping = 3; } }
message Category { string name = 1; enum Level { LEVEL_UNSPECIFIED = 0; LEVEL_TOP = 1; } }
enum Level { LEVEL_NONE = 0; }
enum Color { COLOR_UNSPECIFIED = 0; COLOR_RED = 1; }
`,
  );
  writeFileSync(join(dir, "proto/acme/v1/broken.proto"), 'syntax = "proto3";\npackage acme.v1;\nmessage Broken { strin text = 1; }\n');
  writeFileSync(join(dir, "proto/acme/v1/missing.proto"), 'syntax = "proto3";\npackage acme.v1;\nimport "nowhere/v1/gone.proto";\n');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function schemaError(run: Promise<unknown>): Promise<CliError> {
  try {
    await run;
  } catch (e) {
    if (e instanceof CliError) return e;
    throw e;
  }
  throw new Error("expected a CliError");
}

describe("--proto", () => {
  it("-I directories, a file named relative to one, and the protosocket options found without -I for them", async () => {
    const schema = await loadSchema({ proto: ["acme/v1/acme.proto"], importPath: ["proto", "vendor"] }, dir);
    const service = schema.service("acme.v1.AcmeService");
    expect(service.definition?.binding.methods.map((m) => m.request.path)).toEqual(["ping"]);
  });

  it("a file named by its path on disk, relative to the working directory", async () => {
    const schema = await loadSchema({ proto: ["proto/acme/v1/acme.proto"], importPath: ["proto", "vendor"] }, dir);
    expect(schema.services.map((s) => s.desc.typeName)).toEqual(["acme.v1.AcmeService"]);
  });

  it("without -I, the import root is the file's package root (buf's layout)", async () => {
    const schema = await loadSchema({ proto: [join(repoRoot, "proto/interop/v1/interop_service.proto")] }, tmpdir());
    expect(schema.service("InteropService").definition?.binding.request.id.name).toBe("request_id");
  });

  it("a missing import says which import and to add -I (schema error, exit 3)", async () => {
    const e = await schemaError(loadSchema({ proto: ["acme/v1/acme.proto"], importPath: ["proto"] }, dir));
    expect(e.kind).toBe("schema");
    expect(e.message).toContain('import "shared/v1/shared.proto" not found under -I proto');
    expect(e.message).toContain("acme/v1/acme.proto:4:1");
    const gone = await schemaError(loadSchema({ proto: ["acme/v1/missing.proto"], importPath: ["proto"] }, dir));
    expect(gone.message).toContain('import "nowhere/v1/gone.proto" not found');
  });

  it("a compile error is reported with the user's path, line and column", async () => {
    const e = await schemaError(loadSchema({ proto: ["acme/v1/broken.proto"], importPath: ["proto"] }, dir));
    expect(e.kind).toBe("schema");
    expect(e.message).toMatch(/proto\/acme\/v1\/broken\.proto:3:\d+: .*strin/);
  });

  it("missing files and directories are usage errors naming the flag", async () => {
    const file = await schemaError(loadSchema({ proto: ["acme/v1/nope.proto"], importPath: ["proto"] }, dir));
    expect([file.kind, file.message]).toEqual(["usage", expect.stringContaining("--proto acme/v1/nope.proto: no such file") as unknown]);
    const noI = await schemaError(loadSchema({ proto: ["nope.proto"] }, dir));
    expect(noI.message).toContain("--proto nope.proto: no such file");
    const importDir = await schemaError(loadSchema({ proto: ["acme/v1/acme.proto"], importPath: ["nodir"] }, dir));
    expect(importDir.message).toBe("-I nodir: no such directory");
    const outside = await schemaError(loadSchema({ proto: [join(fixtureRoot, "clitest/v1/health.proto")], importPath: ["proto"] }, dir));
    expect(outside.message).toContain("is not inside any import path");
  });

  it("no schema at all says how to give one", async () => {
    const e = await schemaError(loadSchema({}, dir));
    expect(e.kind).toBe("usage");
    expect(e.message).toContain("--proto");
    expect(e.message).toContain("--image");
  });
});

describe("describe by name", () => {
  const acme = ["--proto", "acme/v1/acme.proto", "-I", "proto", "-I", "vendor", "--json"];

  it("a message or enum by a short name that only it has, like services and methods", async () => {
    for (const [name, typeName] of [
      ["Category", "acme.v1.Category"],
      ["v1.Category", "acme.v1.Category"],
      ["Color", "acme.v1.Color"],
      ["Category.Level", "acme.v1.Category.Level"],
      ["Ping", "shared.v1.Ping"],
      ["acme.v1.Level", "acme.v1.Level"],
    ]) {
      const run = await runInProcess(["describe", name as string, ...acme], { cwd: dir });
      expect([run.code, run.stderr]).toEqual([0, ""]);
      expect(JSON.parse(run.stdout)).toMatchObject({ name: typeName });
    }
    const service = await runInProcess(["describe", "AcmeService", ...acme], { cwd: dir });
    expect(service.code).toBe(0);
  });

  it("a short name that several types have is a usage error listing them", async () => {
    const run = await runInProcess(["describe", "Level", ...acme], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('"Level" is ambiguous: acme.v1.Category.Level, acme.v1.Level; write the full name');
    const unknown = await runInProcess(["describe", "Categry", ...acme], { cwd: dir });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('did you mean "Category"?');
  });
});

describe("--image", () => {
  it("an unreadable file is a usage error; a file that is no image is a schema error", async () => {
    const missing = await schemaError(loadSchema({ image: ["nope.binpb"] }, dir));
    expect([missing.kind, missing.message]).toEqual(["usage", expect.stringContaining("--image nope.binpb: cannot read it") as unknown]);
    writeFileSync(join(dir, "junk.binpb"), "this is not protobuf \xff\xff\xff");
    const junk = await schemaError(loadSchema({ image: ["junk.binpb"] }, dir));
    expect(junk.kind).toBe("schema");
    expect(junk.message).toContain("not a FileDescriptorSet or buf image");
  });
});

describe("exit codes of the command line itself", () => {
  it("an unknown flag or command, or a bad value, is usage (2); --help and --version are 0", async () => {
    expect((await runInProcess(["call", "--nope"])).code).toBe(2);
    expect((await runInProcess(["frobnicate"])).code).toBe(2);
    expect((await runInProcess(["bench", "x:1", "a.B/C", "-c", "0"])).stderr).toContain("expected an integer from 1");
    expect((await runInProcess(["call", "x:1", "a.B/C", "--timeout", "soon"])).code).toBe(2);
    expect((await runInProcess(["--help"])).code).toBe(0);
    const version = await runInProcess(["--version"]);
    expect([version.code, version.stdout.trim()]).toEqual([0, "0.1.0"]);
  });

  it("a target without a port is a usage error, checked before the schema loads", async () => {
    const run = await runInProcess(["call", "localhost", "a.B/C"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('target "localhost": no port; write host:port');
  });
});
