import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The file every bound service imports, relative to an import path. */
export const OPTIONS_PROTO = "protosocket/v1/options.proto";

/**
 * The directory holding `protosocket/v1/*.proto` (the binding options and
 * Status), so users never name it: `proto/` inside an installed
 * `@protosocket/runtime` (its prepack copies them there), or the repository's
 * `proto/` when the runtime is a workspace package. Undefined when neither
 * exists.
 */
export function bundledProtoDir(): string | undefined {
  let runtimeEntry: string;
  try {
    runtimeEntry = fileURLToPath(import.meta.resolve("@protosocket/runtime"));
  } catch {
    return undefined;
  }
  // .../@protosocket/runtime/dist/index.js → the package root.
  const packageRoot = resolve(dirname(runtimeEntry), "..");
  for (const dir of [join(packageRoot, "proto"), resolve(packageRoot, "../../proto")]) {
    if (existsSync(join(dir, OPTIONS_PROTO))) return dir;
  }
  return undefined;
}
