import type { DescService } from "@bufbuild/protobuf";
import { type GeneratedFile, getComments, type Schema, type Target } from "@bufbuild/protoplugin";
import { serviceNames } from "./names.js";
import type { Options } from "./options.js";
import type { BoundService, Plan } from "./plan.js";

const RUNTIME = "@protosocket/runtime";
const PROTOCOL = "@protosocket/runtime/protocol";

const EXTENSION: Record<Target, string> = { ts: ".ts", js: ".js", dts: ".d.ts" };

/** Emits `<file>_protosocket.{ts,js,d.ts}` for every file of the plan. */
export function generateFiles(schema: Schema<Options>, plan: Plan, target: Target): void {
  for (const { file, services } of plan.files) {
    const f = schema.generateFile(`${file.name}_protosocket${EXTENSION[target]}`);
    f.preamble(file);
    services.forEach((bound, i) => {
      if (i > 0) f.print();
      generateService(f, bound, target);
    });
  }
}

/**
 * One service: its definition, bound at load time from the descriptor
 * protoc-gen-es embeds (the binding was checked here, at generate time), and
 * type aliases for its client and its handlers.
 */
function generateService(f: GeneratedFile, { service, binding, standard }: BoundService, target: Target): void {
  const names = serviceNames(service.name);
  const dts = target === "dts";
  const serviceSchema = f.importSchema(service, dts);
  const ServiceDefinition = f.import("ServiceDefinition", RUNTIME, true);

  f.print(f.jsDoc(serviceDoc(service, names.definition, binding.request.typeName, binding.response.typeName, standard)));
  if (dts) {
    f.print(f.export("declare const", names.definition), ": ", ServiceDefinition, "<typeof ", serviceSchema, ">;");
  } else {
    const type = target === "ts" ? [": ", ServiceDefinition, "<typeof ", serviceSchema, ">"] : [];
    f.print(
      f.export("const", names.definition),
      ...type,
      " = /*@__PURE__*/ ",
      f.import(standard ? "defineStandardService" : "defineService", PROTOCOL),
      "(",
      serviceSchema,
      ");",
    );
  }
  if (target === "js") return;

  const deprecated = service.deprecated ? "\n\n@deprecated" : "";
  f.print();
  f.print(f.jsDoc(`The client of ${service.typeName}: one method per rpc.${deprecated}`));
  f.print(f.export("type", names.client), " = ", f.import("Client", RUNTIME, true), "<typeof ", serviceSchema, ">;");
  f.print();
  f.print(
    f.jsDoc(`The handlers of ${service.typeName}, one per rpc (\`Partial<${names.handlers}>\` with \`registerPartial\`).${deprecated}`),
  );
  f.print(f.export("type", names.handlers), " = ", f.import("ServiceImpl", RUNTIME, true), "<typeof ", serviceSchema, ">;");
}

/** The service's own comment, how it is bound and used, and where it comes from. */
function serviceDoc(service: DescService, definition: string, request: string, response: string, standard: boolean): string {
  const paragraphs: string[] = [];
  const leading = getComments(service).leading;
  if (leading !== undefined && leading.trim() !== "") {
    paragraphs.push(
      leading
        .replace(/\n$/, "")
        .split("\n")
        .map((line) => (line.startsWith(" ") ? line.substring(1) : line))
        .join("\n"),
    );
  }
  const travel = standard
    ? `It has no envelope of its own: requests travel in the standard envelope ${request}, named by method, responses in ${response}.`
    : `Requests travel in ${request}, responses in ${response}.`;
  paragraphs.push(
    wrap(`${travel} Call it with \`createClient(${definition}, transport)\`, serve it with \`server.register(${definition}, handlers)\`.`),
  );
  paragraphs.push(`@generated from service ${service.typeName}${service.deprecated ? "\n@deprecated" : ""}`);
  return paragraphs.join("\n\n");
}

/** Wraps a paragraph at 80 columns. */
function wrap(text: string, width = 80): string {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  lines.push(line);
  return lines.join("\n");
}
