import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { schemaError, usageError } from "../exit-codes.js";
import { bundledProtoDir, OPTIONS_PROTO } from "./bundled-protos.js";

/** What {@link compileProtos} compiles. */
export interface CompileRequest {
  /** The `--proto` files: paths on disk, or paths relative to an import path. */
  readonly protos: readonly string[];
  /** The `-I` directories. Empty: each file's root is inferred from its package. */
  readonly importPaths: readonly string[];
  /** Where relative paths start (the process's working directory). */
  readonly cwd: string;
}

/** One import path as the user named it and as buf sees it. */
interface ImportRoot {
  /** Absolute directory. */
  readonly dir: string;
  /** How to show it in messages (relative to cwd when inside it). */
  readonly shown: string;
  /** Its module directory inside the scratch workspace ("m0"). */
  readonly module: string;
}

/**
 * Compiles .proto files with the bundled `buf` (no protoc needed) and returns
 * the FileDescriptorSet image bytes (`buf build -o -`), with every import
 * included. The protosocket option protos are added as an import path unless
 * one of the user's import paths already holds them.
 *
 * buf takes a workspace rather than include paths, so this makes a scratch
 * workspace in the temp directory whose modules are symlinks to the import
 * paths, and builds only the named files (and what they import) from it.
 *
 * @throws CliError: usage for missing files or directories (naming the flag),
 *   schema for compile errors (buf's messages, with paths as the user wrote them).
 */
export async function compileProtos(request: CompileRequest): Promise<Uint8Array> {
  const roots = importRoots(request);
  const targets = request.protos.map((p) => locateProto(p, roots, request.cwd));
  const userHasOptions = roots.some((r) => existsSync(join(r.dir, OPTIONS_PROTO)));
  const bundled = userHasOptions ? undefined : bundledProtoDir();
  const all: ImportRoot[] = [...roots];
  if (bundled !== undefined) all.push({ dir: bundled, shown: `${bundled} (protosocket options)`, module: `m${roots.length}` });

  const workspace = mkdtempSync(join(tmpdir(), "protosocket-cli-"));
  try {
    for (const r of all) symlinkSync(r.dir, join(workspace, r.module), "dir");
    writeFileSync(join(workspace, "buf.yaml"), `version: v2\nmodules:\n${all.map((r) => `  - path: ${r.module}\n`).join("")}`);
    const args = ["build", ".", "-o", "-", "--error-format", "text"];
    for (const t of targets) args.push("--path", `${t.root.module}/${t.relative}`);
    const { status, stdout, stderr } = await runBuf(args, workspace);
    if (status !== 0) {
      throw schemaError(
        `cannot compile ${request.protos.join(", ")}:\n${explainBufErrors(stderr, all, bundled === undefined && !userHasOptions)}`,
      );
    }
    return stdout;
  } finally {
    rmSync(workspace, { recursive: true, force: true });
  }
}

function shownPath(dir: string, cwd: string): string {
  const rel = relative(cwd, dir);
  return rel === "" ? "." : rel.startsWith("..") || isAbsolute(rel) ? dir : rel;
}

function importRoots(request: CompileRequest): ImportRoot[] {
  const dirs: string[] = [];
  if (request.importPaths.length > 0) {
    for (const p of request.importPaths) {
      const dir = resolve(request.cwd, p);
      let isDir = false;
      try {
        isDir = statSync(dir).isDirectory();
      } catch {
        // reported below
      }
      if (!isDir) throw usageError(`-I ${p}: no such directory`);
      if (!dirs.includes(dir)) dirs.push(dir);
    }
  } else {
    for (const p of request.protos) {
      const file = resolve(request.cwd, p);
      if (!existsSync(file)) {
        throw usageError(
          `--proto ${p}: no such file (without -I, --proto names a file on disk; with -I, a path relative to an import path)`,
        );
      }
      const dir = inferRoot(file);
      if (!dirs.includes(dir)) dirs.push(dir);
    }
  }
  return dirs.map((dir, i) => ({ dir, shown: shownPath(dir, request.cwd), module: `m${i}` }));
}

/**
 * The import root of a file given without -I: the directory its package
 * path starts at when the file sits in it (`proto/` for
 * `proto/echo/v1/echo.proto` of package `echo.v1`, buf's layout), else the
 * file's own directory.
 */
function inferRoot(file: string): string {
  const dir = dirname(file);
  let pkg: string | undefined;
  try {
    pkg = /^\s*package\s+([A-Za-z_][\w.]*)\s*;/m.exec(stripComments(readFileSync(file, "utf8")))?.[1];
  } catch {
    return dir;
  }
  if (pkg === undefined) return dir;
  const tail = pkg.split(".").join(sep);
  return dir.endsWith(sep + tail) ? dir.slice(0, dir.length - tail.length - 1) || sep : dir;
}

function stripComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/[^\n]*/g, "");
}

function locateProto(proto: string, roots: readonly ImportRoot[], cwd: string): { root: ImportRoot; relative: string } {
  const onDisk = resolve(cwd, proto);
  if (existsSync(onDisk)) {
    // The deepest import path holding it.
    let best: { root: ImportRoot; relative: string } | undefined;
    for (const root of roots) {
      const rel = relative(root.dir, onDisk);
      if (rel.startsWith("..") || isAbsolute(rel)) continue;
      if (best === undefined || rel.length < best.relative.length) best = { root, relative: rel.split(sep).join("/") };
    }
    if (best !== undefined) return best;
    if (!isAbsolute(proto)) {
      // Perhaps meant relative to an import path after all.
      const viaRoot = findUnderRoots(proto, roots);
      if (viaRoot !== undefined) return viaRoot;
    }
    throw usageError(
      `--proto ${proto} is not inside any import path (${roots.map((r) => `-I ${r.shown}`).join(" ")}); add -I with the directory its imports are relative to`,
    );
  }
  if (isAbsolute(proto)) throw usageError(`--proto ${proto}: no such file`);
  const found = findUnderRoots(proto, roots);
  if (found !== undefined) return found;
  throw usageError(
    `--proto ${proto}: no such file, neither from the working directory nor under ${roots.map((r) => `-I ${r.shown}`).join(", ")}`,
  );
}

function findUnderRoots(proto: string, roots: readonly ImportRoot[]): { root: ImportRoot; relative: string } | undefined {
  for (const root of roots) {
    if (existsSync(join(root.dir, proto))) return { root, relative: proto.split(sep).join("/") };
  }
  return undefined;
}

/**
 * buf's messages with the scratch module names turned back into the user's
 * paths, and missing imports explained.
 */
function explainBufErrors(stderr: string, roots: readonly ImportRoot[], optionsMissing: boolean): string {
  const byModule = new Map(roots.map((r) => [r.module, r]));
  const lines: string[] = [];
  for (const line of stderr.split("\n")) {
    if (line.trim() === "") continue;
    const m = /^(m\d+)\/([^:]+):(\d+):(\d+):(.*)$/.exec(line);
    const root = m === null ? undefined : byModule.get(m[1] as string);
    if (m === null || root === undefined) {
      lines.push(`  ${line}`);
      continue;
    }
    const file = join(root.shown, m[2] as string);
    let text = (m[5] as string).trim();
    if (text === "imported file does not exist") {
      const imported = importOnLine(join(root.dir, m[2] as string), Number(m[3]));
      if (imported !== undefined) {
        text =
          imported.startsWith("protosocket/") && optionsMissing
            ? `import "${imported}": the protosocket option protos were not found next to @protosocket/runtime; add -I with a directory holding ${OPTIONS_PROTO}`
            : `import "${imported}" not found under ${roots.map((r) => `-I ${r.shown}`).join(", ")}; add -I with the directory it is relative to`;
      }
    }
    lines.push(`  ${file}:${m[3]}:${m[4]}: ${text}`);
  }
  return lines.join("\n");
}

function importOnLine(file: string, line: number): string | undefined {
  try {
    const text = readFileSync(file, "utf8").split("\n")[line - 1];
    return text === undefined ? undefined : /import\s+(?:public\s+|weak\s+)?"([^"]+)"/.exec(text)?.[1];
  } catch {
    return undefined;
  }
}

/** Where buf is: $PROTOSOCKET_BUF (a buf executable), else the bundled @bufbuild/buf. */
function bufCommand(): { command: string; prefix: string[] } {
  const override = process.env.PROTOSOCKET_BUF;
  if (override !== undefined && override !== "") return { command: override, prefix: [] };
  let script: string;
  try {
    script = fileURLToPath(import.meta.resolve("@bufbuild/buf/bin/buf"));
  } catch (e) {
    throw schemaError(
      `cannot find the bundled buf (@bufbuild/buf): ${(e as Error).message}; reinstall @protosocket/cli or set PROTOSOCKET_BUF to a buf executable`,
    );
  }
  return { command: process.execPath, prefix: [script] };
}

function runBuf(args: string[], cwd: string): Promise<{ status: number | null; stdout: Uint8Array; stderr: string }> {
  const { command, prefix } = bufCommand();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, [...prefix, ...args], { cwd, stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    let err = "";
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (d: string) => (err += d));
    child.once("error", (e) => reject(schemaError(`cannot run buf (${command}): ${e.message}`, e)));
    child.once("close", (status) => {
      const bytes = Buffer.concat(out);
      resolvePromise({ status, stdout: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), stderr: err });
    });
  });
}
