export { createProtosocketPlugin, protocGenProtosocket, type ProtosocketPluginOptions } from "./protoc-gen-protosocket-plugin.js";
export { parseOptions, type Options, type UnboundServices } from "./options.js";
export { GenerateError } from "./plan.js";
