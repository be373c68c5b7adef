/**
 * @protosocket/runtime/protocol — what generated code and tools use: service
 * definitions from descriptors and the envelope binding rules. Applications
 * import `@protosocket/runtime`.
 *
 * @private Internal API for generated code and tools; it does not follow
 * semantic versioning: any release may change it.
 * @module
 */

export { defineService, serviceFromRegistry, type ServiceDefinition } from "./service/service-definition.js";
export * from "./binding/index.js";
