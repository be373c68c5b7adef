// node scripts/check-docs.mjs --project DIR: type-checks every TypeScript
// block (```ts) of README.md, docs/*.md and packages/*/README.md against the
// packages installed in DIR, a user's project: scripts/new-user-test.sh runs
// it last, in the project it made from the packed packages and the README's
// install section (so all five packages, typescript and @types/node are there).
//
// Each block is one module, compiled as a user would (strict, node16 modules,
// and noUncheckedIndexedAccess and exactOptionalPropertyTypes too), in one tsc
// run over all of them. A block imports generated code as the quick start
// does, `./gen/<dir>/v1/<file>_protosocket.js`: the code of the repository's
// proto/<dir> (or of the quick start's greet.proto, from DIR/proto), generated
// here with buf and the installed plugins.
//
// Not checked:
// - blocks that scripts/new-user-test.sh holds verbatim (the quick start's
//   server and client): it compiles and runs them;
// - blocks marked as fragments by the line `<!-- fragment -->` (any text may
//   follow the word: `<!-- fragment: generated code -->`) just before the
//   fence. Keep them rare: a block a reader copies should compile as it is.
//
// A block that does not compile fails the check with its file and line in the
// Markdown source (and the section it is in). With --keep, DIR/docs-check is
// left in place for a look at the modules as tsc saw them.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const projectAt = args.indexOf("--project");
if (projectAt < 0 || args[projectAt + 1] === undefined) {
  console.error("usage: node scripts/check-docs.mjs --project DIR [--keep]");
  process.exit(2);
}
const project = resolve(args[projectAt + 1]);
const started = performance.now();

function fail(message) {
  console.error(`check-docs: FAIL: ${message}`);
  process.exit(1);
}

// ---------------------------------------------------------------------------
// The blocks.

const sources = [
  "README.md",
  ...readdirSync(join(root, "docs"))
    .filter((f) => f.endsWith(".md"))
    .sort()
    .map((f) => `docs/${f}`),
  ...readdirSync(join(root, "packages"))
    .sort()
    .map((p) => `packages/${p}/README.md`)
    .filter((f) => existsSync(join(root, f))),
];
const newUserTest = readFileSync(join(root, "scripts/new-user-test.sh"), "utf8");

/** Every ```ts block of a Markdown file: its first line's number (1-based), section, text, and whether it is marked a fragment. */
function blocksOf(file) {
  const lines = readFileSync(join(root, file), "utf8").split("\n");
  const blocks = [];
  let section = "(top)";
  for (let i = 0; i < lines.length; i++) {
    const heading = /^#{1,6} +(.*)$/.exec(lines[i]);
    if (heading) section = heading[1];
    const fence = /^( *)(`{3,})(\w*)\s*$/.exec(lines[i]);
    if (!fence) continue;
    const [, indent, ticks, lang] = fence;
    let end = i + 1;
    while (end < lines.length && !new RegExp(`^ *${ticks}\\s*$`).test(lines[end])) end++;
    if (lang === "ts" || lang === "typescript") {
      let before = i - 1;
      while (before >= 0 && lines[before].trim() === "") before--;
      const text = lines
        .slice(i + 1, end)
        .map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l))
        .join("\n");
      blocks.push({
        file,
        line: i + 2, // the block's first line of code
        section,
        text: `${text}\n`,
        fragment: before >= 0 && /^\s*<!-- *fragment\b.*-->\s*$/.test(lines[before]),
      });
    }
    i = end;
  }
  return blocks;
}

const all = sources.flatMap(blocksOf);
const fragments = all.filter((b) => b.fragment);
const inNewUserTest = all.filter((b) => !b.fragment && newUserTest.includes(`\n${b.text}EOF\n`));
const blocks = all.filter((b) => !b.fragment && !inNewUserTest.includes(b));

// ---------------------------------------------------------------------------
// A scratch project beside the user's: DIR/docs-check.

const work = join(project, "docs-check");
const bin = join(project, "node_modules/.bin");
for (const need of ["tsc", "buf", "protoc-gen-es", "protoc-gen-protosocket"]) {
  if (!existsSync(join(bin, need)))
    fail(`${project} has no node_modules/.bin/${need}: run scripts/new-user-test.sh (it makes the project and calls this)`);
}
rmSync(work, { recursive: true, force: true });
mkdirSync(join(work, "src"), { recursive: true });

// The generated code the blocks import: ./gen/<dir>/...
const dirs = new Set();
for (const b of blocks) {
  for (const m of b.text.matchAll(/from "\.\/gen\/([\w-]+)\//g)) dirs.add(m[1]);
}
/** The .proto files under a directory, recursively. */
const protosIn = (d) =>
  readdirSync(d, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? protosIn(join(d, e.name)) : e.name.endsWith(".proto") ? [join(d, e.name)] : [],
  );
// Each directory, and the directories its protos import (but protosocket/, the runtime's, and google/protobuf).
for (const dir of dirs) {
  const from = [join(project, "proto", dir), join(root, "proto", dir)].find((d) => existsSync(d));
  if (from === undefined || dir === "protosocket") {
    const users = blocks.filter((b) => b.text.includes(`"./gen/${dir}/`)).map((b) => `${b.file}:${b.line}`);
    fail(`${users.join(", ")} import ./gen/${dir}/…, but neither proto/${dir} of the repository nor the quick start's protos hold it`);
  }
  cpSync(from, join(work, "proto", dir), { recursive: true });
  for (const file of protosIn(from)) {
    for (const m of readFileSync(file, "utf8").matchAll(/^import\s+(?:public\s+|weak\s+)?"([\w-]+)\//gm)) {
      if (m[1] !== "protosocket" && m[1] !== "google") dirs.add(m[1]); // visited later by this loop
    }
  }
}
if (dirs.size > 0) {
  // The protosocket protos from the installed (packed) runtime, as a second module.
  cpSync(join(project, "node_modules/@protosocket/runtime/proto"), join(work, "runtime-proto"), { recursive: true });
  writeFileSync(join(work, "buf.yaml"), "version: v2\nmodules:\n  - path: proto\n  - path: runtime-proto\n");
  const opt = "[target=ts, import_extension=js, rewrite_imports=./protosocket/v1/*_pb.js:@protosocket/runtime/gen]";
  // As the repository's buf.gen.yaml: services with no envelope option (proto/routeguide) get the standard envelope.
  const ours = opt.replace("]", ", default_envelope=standard]");
  writeFileSync(
    join(work, "buf.gen.yaml"),
    `version: v2\ninputs:\n  - directory: proto\nplugins:\n  - local: protoc-gen-es\n    out: src/gen\n    opt: ${opt}\n  - local: protoc-gen-protosocket\n    out: src/gen\n    opt: ${ours}\n`,
  );
  const gen = spawnSync(join(bin, "buf"), ["generate"], {
    cwd: work,
    encoding: "utf8",
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
  });
  if (gen.status !== 0) fail(`buf generate (${[...dirs].map((d) => `proto/${d}`).join(", ")}) failed:\n${gen.stderr}${gen.stdout}`);
}

// One module per block, named for where it is.
const byModule = new Map();
for (const b of blocks) {
  const name = `${b.file.replace(/[^\w]+/g, "_")}_${b.line}.ts`;
  writeFileSync(join(work, "src", name), b.text);
  byModule.set(`src/${name}`, b);
}
writeFileSync(
  join(work, "tsconfig.json"),
  `${JSON.stringify(
    {
      compilerOptions: {
        target: "es2022",
        module: "node16",
        strict: true,
        noUncheckedIndexedAccess: true,
        exactOptionalPropertyTypes: true,
        types: ["node"],
        moduleDetection: "force",
        noEmit: true,
        skipLibCheck: true,
      },
      include: ["src"],
    },
    null,
    2,
  )}\n`,
);

// ---------------------------------------------------------------------------
// One tsc run; its diagnostics mapped back to the Markdown.

const tsc = spawnSync(join(bin, "tsc"), ["-p", ".", "--pretty", "false"], { cwd: work, encoding: "utf8" });
const output = `${tsc.stdout}${tsc.stderr}`;
const failed = new Map();
const other = [];
for (const line of output.split("\n")) {
  if (line.trim() === "") continue;
  const d = /^(src\/[^(]+)\((\d+),(\d+)\): (.*)$/.exec(line);
  const b = d && byModule.get(d[1]);
  if (!b) {
    // A continuation line of the previous diagnostic, or one outside the blocks (generated code).
    if (/^\s/.test(line) && failed.size > 0) [...failed.values()].at(-1).push(`    ${line.trim()}`);
    else other.push(line);
    continue;
  }
  const list = failed.get(b) ?? [];
  list.push(`  ${b.file}:${b.line + Number(d[2]) - 1}:${d[3]}: ${d[4]}`);
  failed.set(b, list);
}
if (!args.includes("--keep") && failed.size === 0 && other.length === 0) rmSync(work, { recursive: true, force: true });

const seconds = ((performance.now() - started) / 1000).toFixed(1);
if (failed.size > 0 || other.length > 0 || tsc.status !== 0) {
  for (const [b, list] of failed) {
    console.error(`${b.file}:${b.line}: the TypeScript block in "${b.section}" does not compile:`);
    console.error(list.join("\n"));
  }
  if (other.length > 0) console.error(`tsc (in ${relative(process.cwd(), work) || work}):\n${other.join("\n")}`);
  fail(
    `${failed.size} of ${blocks.length} TypeScript blocks do not compile against the installed packages` +
      " (fix the block, or the code if the block shows what a user should be able to do;" +
      " mark a block that is not meant to compile on its own with <!-- fragment --> before its fence)",
  );
}
console.log(
  `check-docs: OK in ${seconds} s — ${blocks.length} TypeScript blocks of ${sources.length} files compile against the installed packages` +
    ` (one tsc run; generated code of ${dirs.size > 0 ? [...dirs].sort().join(", ") : "no proto"});` +
    ` ${inNewUserTest.length} more are compiled and run by new-user-test.sh, ${fragments.length} are marked fragments`,
);
