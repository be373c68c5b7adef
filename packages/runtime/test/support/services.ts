import { defineService, type ServiceDefinition } from "../../src/protocol.js";
import { EchoService } from "@protosocket/gen/echo/v1/echo_pb.js";
import { InteropService } from "@protosocket/gen/interop/v1/interop_service_pb.js";
import { KvService } from "@protosocket/gen/test/v1/grouped_pb.js";

/** Service definitions bound from the descriptors protoc-gen-es embeds, as generated code binds them. */
export const echoDef = defineService(EchoService);
export const kvDef = defineService(KvService);
export const interopDef = defineService(InteropService);

/**
 * `def` with its response envelope's error case unbound (as `error_case: "-"`
 * binds it): failures then travel as a bare Cancel, as with a Rust envelope.
 */
export function withoutErrorCase<D extends ServiceDefinition>(def: D): D {
  const { error: _unbound, ...response } = def.binding.response;
  return { ...def, binding: { ...def.binding, response } };
}
