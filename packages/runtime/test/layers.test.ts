/**
 * The runtime's layers, as README.md's table states them, checked against
 * the imports of packages/runtime/src: each module imports only its own
 * folder, the layers below it and the base; siblings do not import each
 * other; and no import cycle exists (type-only imports included).
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const src = resolve(dirname(fileURLToPath(import.meta.url)), "../src");

/**
 * Layer of a top-level folder or file; a module may import only lower
 * layers (and its own folder). Within the base, the order of the fractions
 * holds; protobuf ∥ messagepack (the encodings), conn ∥ call, client ∥
 * server and pool ∥ memory are siblings.
 */
const LAYERS: Record<string, number> = {
  gen: 0,
  "errors.ts": 0,
  "context-values.ts": 0,
  "draining.ts": 0.5,
  util: 0.5,
  "metadata.ts": 0.75,
  wire: 1,
  binding: 2,
  encoding: 2.5,
  protobuf: 3,
  messagepack: 3,
  conn: 3.5,
  call: 3.5,
  client: 4,
  server: 4,
  pool: 5,
  memory: 5,
  "index.ts": 9,
  "protocol.ts": 9,
  "messagepack.ts": 9,
};

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

function imports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const out: string[] = [];
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)) {
    out.push(resolve(dirname(file), (m[1] as string).replace(/\.js$/, ".ts")));
  }
  return out;
}

const top = (file: string) => relative(src, file).split("/")[0] as string;

describe("runtime layers", () => {
  const all = files(src);
  const graph = new Map(all.map((f) => [f, imports(f)]));

  it("every module is in a layer of the table", () => {
    expect(all.map(top).filter((t) => LAYERS[t] === undefined)).toEqual([]);
  });

  it("imports go down the table, never across to a sibling", () => {
    const wrong: string[] = [];
    for (const [file, deps] of graph) {
      const from = top(file);
      for (const dep of deps) {
        const to = top(dep);
        if (to === from) continue;
        if ((LAYERS[to] as number) >= (LAYERS[from] as number)) wrong.push(`${relative(src, file)} → ${relative(src, dep)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("has no import cycle", () => {
    const state = new Map<string, "visiting" | "done">();
    const cycles: string[] = [];
    const visit = (f: string, path: string[]) => {
      if (state.get(f) === "done") return;
      if (state.get(f) === "visiting") {
        cycles.push([...path.slice(path.indexOf(f)), f].map((x) => relative(src, x)).join(" → "));
        return;
      }
      state.set(f, "visiting");
      for (const d of graph.get(f) ?? []) visit(d, [...path, f]);
      state.set(f, "done");
    };
    for (const f of all) visit(f, []);
    expect(cycles).toEqual([]);
  });
});
