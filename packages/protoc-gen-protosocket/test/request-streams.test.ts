/**
 * Client- and bidi-streaming methods: generated (they are an extension of
 * protosocket-ts), each with a warning that Rust protosocket-rpc peers can
 * neither serve nor call them; the generated types agree with the runtime's
 * (tsc checks the generated client and handler interfaces against
 * `createClient` and `server.register`).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { compileProtos, generateFrom, packageDir, protocGenEs, repoProto, repoRoot, runPluginOn, writeFiles } from "./helpers.js";

const FILE = "streaming/v1/streaming.proto";
const sources = { [FILE]: repoProto(FILE) };

describe("client- and bidi-streaming methods", () => {
  const scratch = mkdtempSync(join(packageDir, "test", ".tmp-streams-"));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it("are generated, each with a warning that Rust protosocket-rpc peers cannot serve or call them", () => {
    const { files, warnings } = generateFrom(compileProtos(sources), [FILE], "target=ts");
    expect(warnings).toEqual([
      `protoc-gen-protosocket: ${FILE}: service streaming.v1.StreamingService, method Upload: client streaming is an extension of protosocket-ts: Rust protosocket-rpc peers can neither serve nor call it`,
      `protoc-gen-protosocket: ${FILE}: service streaming.v1.StreamingService, method Chat: bidi streaming is an extension of protosocket-ts: Rust protosocket-rpc peers can neither serve nor call it`,
    ]);
    const code = files.get("streaming/v1/streaming_protosocket.ts") ?? "";
    const lines = code.split("\n").map((l) => l.trim());
    expect(lines).toContain("upload(requests: AsyncIterable<MessageInitShape<typeof ChunkSchema>>, options?: CallOptions): Promise<UploadSummary>;");
    expect(lines).toContain("chat(requests: AsyncIterable<MessageInitShape<typeof ChatMessageSchema>>, options?: CallOptions): AsyncIterable<ChatMessage>;");
    expect(lines).toContain("ping(request: MessageInitShape<typeof ChatMessageSchema>, options?: CallOptions): Promise<ChatMessage>;");
    expect(lines).toContain(
      "upload(requests: AsyncIterable<Chunk>, ctx: HandlerContext): Promise<MessageInitShape<typeof UploadSummarySchema>> | MessageInitShape<typeof UploadSummarySchema>;",
    );
    expect(lines).toContain("chat(requests: AsyncIterable<ChatMessage>, ctx: HandlerContext): AsyncIterable<MessageInitShape<typeof ChatMessageSchema>>;");
    // The binding records each method's kind.
    expect(code).toContain(`kind: "client_streaming"`);
    expect(code).toContain(`kind: "bidi_streaming"`);
  });

  it.each(["target=ts", "target=js+dts"])("type-check against the runtime's Client and ServiceImpl types (%s)", (target) => {
    const parameter = `${target},import_extension=js,rewrite_imports=./protosocket/**/*_pb.js:@protosocket/runtime/gen`;
    const protoFile = compileProtos(sources);
    const dir = join(scratch, target.replace(/\W/g, "_"));
    const es = runPluginOn(protocGenEs(), protoFile, [FILE], parameter);
    expect(es.error ?? "").toBe("");
    writeFiles(dir, es.file);
    writeFiles(dir, generateFrom(protoFile, [FILE], parameter).files);
    writeFileSync(
      join(dir, "tsconfig.json"),
      JSON.stringify({
        extends: relative(dir, join(repoRoot, "tsconfig.base.json")),
        compilerOptions: { noEmit: true, composite: false, declaration: false, sourceMap: false, rootDir: "." },
        include: ["**/*.ts"],
      }),
    );
    const run = spawnSync(process.execPath, [join(repoRoot, "node_modules", "typescript", "bin", "tsc"), "-p", join(dir, "tsconfig.json")], { encoding: "utf8" });
    expect(run.stdout + run.stderr).toBe("");
    expect(run.status).toBe(0);
  });
});
