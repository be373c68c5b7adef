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
    // One definition and two type aliases, as for every service: the runtime's mapped types give
    // client-streaming and bidi methods their AsyncIterable shapes (checked by tsc below).
    expect(code).toContain(
      "export const StreamingServiceDefinition: ServiceDefinition<typeof StreamingService> = /*@__PURE__*/ defineService(StreamingService);",
    );
    expect(code).toContain("export type StreamingServiceClient = Client<typeof StreamingService>;");
    expect(code).toContain("export type StreamingServiceHandlers = ServiceImpl<typeof StreamingService>;");
  });

  it.each(["target=ts", "target=js+dts"])("type-check against the runtime's Client and ServiceImpl types (%s)", (target) => {
    const parameter = `${target},import_extension=js,rewrite_imports=./protosocket/**/*_pb.js:@protosocket/runtime/gen`;
    const protoFile = compileProtos(sources);
    const dir = join(scratch, target.replace(/\W/g, "_"));
    const es = runPluginOn(protocGenEs(), protoFile, [FILE], parameter);
    expect(es.error ?? "").toBe("");
    writeFiles(dir, es.file);
    writeFiles(dir, generateFrom(protoFile, [FILE], parameter).files);
    // A caller and a server of both kinds, type-checked against the generated types.
    writeFileSync(
      join(dir, "usage.ts"),
      `import type { ChatMessage } from "./streaming/v1/streaming_pb.js";
import type { StreamingServiceClient, StreamingServiceHandlers } from "./streaming/v1/streaming_protosocket.js";
export async function use(client: StreamingServiceClient): Promise<number> {
  async function* chunks() { yield { seq: 1, data: new Uint8Array(1) }; }
  const summary = await client.upload(chunks());
  let n = summary.chunks;
  for await (const m of client.chat((async function* () { yield { seq: 2, text: "hi" }; })())) n += m.seq;
  // @ts-expect-error a client-streaming method takes an AsyncIterable, not one request
  await client.upload({ seq: 1 });
  return n + (await client.ping({ seq: 3 })).seq;
}
export const handlers: StreamingServiceHandlers = {
  async upload(requests) { let chunks = 0; for await (const _ of requests) chunks++; return { chunks }; },
  async *chat(requests) { for await (const m of requests) yield m satisfies ChatMessage; },
  ping: (request) => request,
};
`,
    );
    writeFileSync(
      join(dir, "tsconfig.json"),
      JSON.stringify({
        extends: relative(dir, join(repoRoot, "tsconfig.base.json")),
        compilerOptions: { noEmit: true, composite: false, declaration: false, sourceMap: false, rootDir: "." },
        include: ["**/*.ts"],
      }),
    );
    const run = spawnSync(
      process.execPath,
      [join(repoRoot, "node_modules", "typescript", "bin", "tsc"), "-p", join(dir, "tsconfig.json")],
      { encoding: "utf8" },
    );
    expect(run.stdout + run.stderr).toBe("");
    expect(run.status).toBe(0);
  });
});
