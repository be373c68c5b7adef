import { readFileSync } from "node:fs";
import { createEcmaScriptPlugin, type Plugin, type Schema } from "@bufbuild/protoplugin";
import { generateFiles } from "./generate.js";
import { parseOptions, type Options } from "./options.js";
import { planGeneration, type Plan } from "./plan.js";

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };

/** Options of {@link createProtosocketPlugin}. */
export interface ProtosocketPluginOptions {
  /** Where warnings go (services skipped for lack of a binding). Default: stderr. */
  warn?: (message: string) => void;
}

/**
 * Creates the protoc-gen-protosocket plugin. For each file to generate that
 * declares services bound to envelopes with `(protosocket.v1.envelope)`, it
 * emits `<file>_protosocket.ts` (or `.js` + `.d.ts`) beside protoc-gen-es's
 * `<file>_pb.ts`: per service, a definition (bound at load time from the
 * descriptor protoc-gen-es embeds, after this plugin checked every binding
 * rule) and the types of its client and its handlers.
 */
export function createProtosocketPlugin(options: ProtosocketPluginOptions = {}): Plugin {
  const warn = options.warn ?? ((message: string) => process.stderr.write(`${message}\n`));
  // One schema is generated for several targets (js+dts): resolve and warn once.
  const plans = new WeakMap<Schema<Options>, Plan>();
  const plan = (schema: Schema<Options>): Plan => {
    let p = plans.get(schema);
    if (p === undefined) {
      p = planGeneration(schema, warn);
      plans.set(schema, p);
    }
    return p;
  };
  return createEcmaScriptPlugin<Options>({
    name: "protoc-gen-protosocket",
    version: `v${version}`,
    parseOptions,
    generateTs: (schema, target) => generateFiles(schema, plan(schema), target),
    generateJs: (schema, target) => generateFiles(schema, plan(schema), target),
    generateDts: (schema, target) => generateFiles(schema, plan(schema), target),
  });
}

/** The plugin, warning on stderr. */
export const protocGenProtosocket: Plugin = createProtosocketPlugin();
