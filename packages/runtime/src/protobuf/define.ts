import { createRegistry, type DescFile, type DescService, type Registry } from "@bufbuild/protobuf";
import { resolveServiceBinding } from "../binding/resolve.js";
import { protobufEncoding } from "./encoding.js";
import type { ServiceDefinition } from "./service-definition.js";

export type { ServiceDefinition } from "./service-definition.js";

/**
 * Binds a service to its envelopes, reading the `(protosocket.v1.*)` options
 * from the descriptor that protoc-gen-es embeds in `*_pb.js` and resolving
 * them with the rules the code generator enforces. The envelopes may live in
 * any file the service's file imports, directly or not. Generated code calls
 * it once per service, when the module loads.
 *
 * @private Internal API for generated code; it does not follow semantic versioning.
 * @throws BindingError when the service breaks a binding rule. The generator
 * refuses such services, so generated code only throws here when its
 * `*_pb.js` no longer matches the protos it was generated from.
 */
export function defineService<S extends DescService>(service: S): ServiceDefinition<S> {
  return serviceFromRegistry(service, createRegistry(...withDependencies(service.file)));
}

/**
 * Defines a service known only by descriptors (for example from a
 * `buf build` image loaded into a registry), resolving its binding with the
 * same rules as the code generator.
 *
 * @private Internal API for tools; it does not follow semantic versioning.
 * @throws BindingError when the service breaks a binding rule.
 */
export function serviceFromRegistry<S extends DescService>(service: S, registry: Registry): ServiceDefinition<S> {
  const binding = resolveServiceBinding(service, registry);
  const request = registry.getMessage(binding.request.typeName);
  const response = registry.getMessage(binding.response.typeName);
  if (request === undefined || response === undefined) {
    throw new Error(`envelopes of ${service.typeName} are not in the registry`);
  }
  return { service, encoding: protobufEncoding, requestEnvelope: request, responseEnvelope: response, binding };
}

/** `file` and every file it imports, directly or not. */
function withDependencies(file: DescFile): DescFile[] {
  const files = new Set<DescFile>();
  const add = (f: DescFile): void => {
    if (files.has(f)) return;
    files.add(f);
    for (const dep of f.dependencies) add(dep);
  };
  add(file);
  return [...files];
}
