import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { create, fromBinary } from "@bufbuild/protobuf";
import type { Plugin } from "@bufbuild/protoplugin";
import {
  CodeGeneratorRequestSchema,
  FileDescriptorSetSchema,
  type CodeGeneratorResponse,
  type FileDescriptorProto,
} from "@bufbuild/protobuf/wkt";
import { createProtosocketPlugin } from "../src/index.js";

export const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");
export const repoRoot = join(packageDir, "..", "..");
const protoRoot = join(repoRoot, "proto");
const buf = join(repoRoot, "node_modules", ".bin", "buf");

/** Reads a .proto of the repository (for tests that use the real example protos). */
export function repoProto(path: string): string {
  return readFileSync(join(protoRoot, path), "utf8");
}

/**
 * Compiles .proto sources with `buf build` into descriptors (with source info,
 * so comments reach the plugin). `proto/protosocket/v1` is always importable,
 * as are the well-known types, and the contents of `extraRoots` (linked, not
 * copied). With `paths`, only those directories and `sources` are compiled
 * (with their imports). Returns the files in dependency order.
 */
export function compileProtos(
  sources: Record<string, string>,
  extraRoots: readonly string[] = [],
  paths?: readonly string[],
): FileDescriptorProto[] {
  const dir = mkdtempSync(join(tmpdir(), "protosocket-plugin-"));
  try {
    const src = join(dir, "src");
    cpSync(join(protoRoot, "protosocket"), join(src, "protosocket"), { recursive: true });
    for (const [name, content] of Object.entries(sources)) {
      mkdirSync(dirname(join(src, name)), { recursive: true });
      writeFileSync(join(src, name), content);
    }
    for (const root of extraRoots) linkTree(root, src);
    const out = join(dir, "image.binpb");
    const pathArgs = paths === undefined ? [] : [...paths, ...Object.keys(sources)].flatMap((p) => ["--path", join(src, p)]);
    try {
      execFileSync(buf, ["build", src, ...pathArgs, "-o", out], { stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 << 20 });
    } catch (e) {
      const err = e as { stderr?: Buffer };
      throw new Error(`buf build failed:\n${err.stderr?.toString() ?? String(e)}`);
    }
    return fromBinary(FileDescriptorSetSchema, readFileSync(out)).file;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Symlinks the entries of `from` into `to`, merging directories that exist in both. */
function linkTree(from: string, to: string): void {
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const target = join(to, entry.name);
    if (entry.isDirectory() && existsSync(target)) linkTree(join(from, entry.name), target);
    else if (!existsSync(target)) symlinkSync(join(from, entry.name), target);
  }
}

/** What one in-process plugin run produced. */
export interface RunResult {
  /** Generated files by name. */
  readonly files: Map<string, string>;
  /** Warnings the plugin reported. */
  readonly warnings: string[];
}

/** Runs a plugin in-process over compiled descriptors. */
export function runPluginOn(
  plugin: Plugin,
  protoFile: readonly FileDescriptorProto[],
  fileToGenerate: readonly string[],
  parameter: string,
): CodeGeneratorResponse {
  const req = create(CodeGeneratorRequestSchema, {
    fileToGenerate: [...fileToGenerate],
    parameter,
    protoFile: [...protoFile],
    sourceFileDescriptors: protoFile.filter((f) => fileToGenerate.includes(f.name)),
  });
  return plugin.run(req);
}

/**
 * Compiles `sources` and runs protoc-gen-protosocket over them in-process
 * (all of `sources` are files to generate unless `generate` says otherwise).
 * Binding errors are thrown, as the plugin throws them.
 */
export function generate(sources: Record<string, string>, parameter = "target=ts", generateOnly?: readonly string[]): RunResult {
  const protoFile = compileProtos(sources);
  return generateFrom(protoFile, generateOnly ?? Object.keys(sources), parameter);
}

/** Runs protoc-gen-protosocket over already-compiled descriptors. */
export function generateFrom(protoFile: readonly FileDescriptorProto[], fileToGenerate: readonly string[], parameter: string): RunResult {
  const warnings: string[] = [];
  const plugin = createProtosocketPlugin({ warn: (m) => warnings.push(m) });
  const res = runPluginOn(plugin, protoFile, fileToGenerate, parameter);
  if (res.error !== undefined && res.error !== "") throw new Error(res.error);
  return { files: new Map(res.file.map((f) => [f.name, f.content])), warnings };
}

const require = createRequire(import.meta.url);

/** protoc-gen-es, in-process (the generated code imports its output). */
export function protocGenEs(): Plugin {
  return (require("@bufbuild/protoc-gen-es/dist/cjs/src/protoc-gen-es-plugin.js") as { protocGenEs: Plugin }).protocGenEs;
}

/** Writes generated files under `dir`. */
export function writeFiles(dir: string, files: ReadonlyMap<string, string> | readonly { name: string; content: string }[]): void {
  const entries =
    files instanceof Map
      ? [...files.entries()]
      : (files as readonly { name: string; content: string }[]).map((f) => [f.name, f.content] as const);
  for (const [name, content] of entries) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
}

/** The options the repository's buf.gen.yaml gives both plugins, after `target=…`. */
export const REPO_OPTIONS = "import_extension=js,rewrite_imports=./protosocket/v1/*_pb.js:@protosocket/runtime/gen";

/**
 * Generates the repository's protos under `paths` (directories of proto/,
 * e.g. "fixture/kv") with protoc-gen-es and protoc-gen-protosocket into
 * `dir`, with `target` and the options of the repository's buf.gen.yaml.
 */
export function generateRepoProtos(dir: string, paths: readonly string[], target: string): void {
  const parameter = `${target},${REPO_OPTIONS}`;
  const protoFile = compileProtos({}, [protoRoot], paths);
  const names = protoFile.filter((f) => paths.some((p) => f.name.startsWith(`${p}/`))).map((f) => f.name);
  const es = runPluginOn(protocGenEs(), protoFile, names, parameter);
  if (es.error !== undefined && es.error !== "") throw new Error(es.error);
  writeFiles(dir, es.file);
  writeFiles(dir, generateFrom(protoFile, names, parameter).files);
}
