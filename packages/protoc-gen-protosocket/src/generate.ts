import type { DescMethod } from "@bufbuild/protobuf";
import type { GeneratedFile, Printable, Schema, Target } from "@bufbuild/protoplugin";
import { printLiteral } from "./literal.js";
import { serviceNames } from "./names.js";
import type { Options } from "./options.js";
import type { BoundService, Plan } from "./plan.js";

const RUNTIME = "@protosocket/runtime";
const PROTOBUF = "@bufbuild/protobuf";

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

function generateService(f: GeneratedFile, bound: BoundService, target: Target): void {
  const { service, binding, requestEnvelope, responseEnvelope } = bound;
  const names = serviceNames(service.name);
  const ts = target === "ts";
  const dts = target === "dts";
  const typed = ts || dts;
  const deprecated = service.deprecated ? "\n\n@deprecated" : "";

  const serviceSchema = f.importSchema(service, dts);
  const ServiceDefinition = f.import("ServiceDefinition", RUNTIME, true);
  const Transport = f.import("Transport", RUNTIME, true);
  const Server = f.import("Server", RUNTIME, true);

  // <Service>Definition: the service with its binding compiled in.
  f.print(
    f.jsDoc(
      wrap(
        `The protosocket binding of ${service.typeName}: requests travel in ${binding.request.typeName}, responses in ${binding.response.typeName}.${deprecated}`,
      ),
    ),
  );
  if (dts) {
    f.print(f.export("declare const", names.definition), ": ", ServiceDefinition, "<typeof ", serviceSchema, ">;");
  } else {
    const head: Printable[] = [f.export("const", names.definition)];
    if (ts) head.push(": ", ServiceDefinition, "<typeof ", serviceSchema, ">");
    f.print(...head, " = ", f.import("defineService", `${RUNTIME}/protocol`), "(");
    f.print("  ", serviceSchema, ",");
    f.print("  ", f.importSchema(requestEnvelope), ",");
    f.print("  ", f.importSchema(responseEnvelope), ",");
    f.print("  ", printLiteral(binding, "  "), ",");
    f.print(");");
  }
  f.print();

  // <Service>Client: one method per rpc.
  if (typed) {
    f.print(f.jsDoc(service));
    f.print(f.export("interface", names.client), " {");
    service.methods.forEach((method, i) => {
      if (i > 0) f.print();
      f.print(f.jsDoc(method, "  "));
      f.print("  ", method.localName, clientParam(f, method), ", options?: ", f.import("CallOptions", RUNTIME, true), "): ", clientReturn(f, method), ";");
    });
    f.print("}");
    f.print();
  }

  // create<Service>Client
  f.print(f.jsDoc(wrap(`Creates a client of ${service.typeName} that calls through \`transport\`.${deprecated}`)));
  if (dts) {
    f.print(f.export("declare function", names.createClient), "(transport: ", Transport, "): ", names.client, ";");
  } else {
    f.print(f.export("function", names.createClient), ts ? ["(transport: ", Transport, "): ", names.client, " {"] : "(transport) {");
    f.print("  return ", f.import("createClient", RUNTIME), "(", names.definition, ", transport);");
    f.print("}");
  }
  f.print();

  // <Service>Handlers: what a server implements.
  if (typed) {
    f.print(
      f.jsDoc(
        wrap(
          `The server side of ${service.typeName}: one handler per rpc. Unary handlers return the response (or a promise of it), server-streaming handlers are async generators (any AsyncIterable). Register it with ${names.register}, or with ${names.registerPartial} to leave some rpcs unimplemented.${deprecated}`,
        ),
      ),
    );
    f.print(f.export("interface", names.handlers), " {");
    const HandlerContext = f.import("HandlerContext", RUNTIME, true);
    service.methods.forEach((method, i) => {
      if (i > 0) f.print();
      f.print(f.jsDoc(method, "  "));
      f.print("  ", method.localName, handlerParam(f, method), ", ctx: ", HandlerContext, "): ", handlerReturn(f, method), ";");
    });
    f.print("}");
    f.print();
  }

  // register<Service>, register<Service>Partial
  const registerFns = [
    { name: names.register, impl: [names.handlers], call: "register", doc: `Serves ${service.typeName} on \`server\` with a handler for every rpc.` },
    {
      name: names.registerPartial,
      impl: ["Partial<", names.handlers, ">"],
      call: "registerPartial",
      doc: `Serves ${service.typeName} on \`server\` with the handlers given; the others answer \`unimplemented\`.`,
    },
  ];
  registerFns.forEach((r, i) => {
    if (i > 0) f.print();
    f.print(f.jsDoc(wrap(r.doc + deprecated)));
    if (dts) {
      f.print(f.export("declare function", r.name), "(server: ", Server, ", impl: ", r.impl, "): void;");
    } else {
      f.print(f.export("function", r.name), ts ? ["(server: ", Server, ", impl: ", r.impl, "): void {"] : "(server, impl) {");
      f.print("  server.", r.call, "(", names.definition, ", impl);");
      f.print("}");
    }
  });
}

/** Wraps each paragraph of a doc comment at 80 columns. */
function wrap(text: string, width = 80): string {
  return text
    .split("\n")
    .map((paragraph) => {
      const lines: string[] = [];
      let line = "";
      for (const word of paragraph.split(" ")) {
        if (line !== "" && line.length + 1 + word.length > width) {
          lines.push(line);
          line = word;
        } else {
          line = line === "" ? word : `${line} ${word}`;
        }
      }
      lines.push(line);
      return lines.join("\n");
    })
    .join("\n");
}

function initShape(f: GeneratedFile, message: DescMethod["input"]): Printable {
  return [f.import("MessageInitShape", PROTOBUF, true), "<typeof ", f.importSchema(message, true), ">"];
}

/** True for kinds whose responses are a stream (server and bidi streaming). */
function streamsOut(method: DescMethod): boolean {
  return method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming";
}

/** True for kinds whose requests are a stream (client and bidi streaming). */
function streamsIn(method: DescMethod): boolean {
  return method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming";
}

function clientParam(f: GeneratedFile, method: DescMethod): Printable {
  const init = initShape(f, method.input);
  return streamsIn(method) ? ["(requests: AsyncIterable<", init, ">"] : ["(request: ", init];
}

function handlerParam(f: GeneratedFile, method: DescMethod): Printable {
  const shape = f.importShape(method.input);
  return streamsIn(method) ? ["(requests: AsyncIterable<", shape, ">"] : ["(request: ", shape];
}

function clientReturn(f: GeneratedFile, method: DescMethod): Printable {
  const out = f.importShape(method.output);
  return streamsOut(method) ? ["AsyncIterable<", out, ">"] : ["Promise<", out, ">"];
}

function handlerReturn(f: GeneratedFile, method: DescMethod): Printable {
  const init = initShape(f, method.output);
  return streamsOut(method) ? ["AsyncIterable<", init, ">"] : ["Promise<", init, "> | ", init];
}
