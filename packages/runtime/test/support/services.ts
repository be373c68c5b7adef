import { createRegistry } from "@bufbuild/protobuf";
import { serviceFromRegistry } from "../../src/protocol.js";
import type { ServiceDefinition } from "../../src/index.js";
import { EchoService, file_echo_v1_echo } from "../gen/echo/v1/echo_pb.js";
import { file_interop_v1_interop } from "../gen/interop/v1/interop_pb.js";
import { file_interop_v1_interop_service, InteropService } from "../gen/interop/v1/interop_service_pb.js";
import { file_test_v1_grouped, KvService } from "../gen/test/v1/grouped_pb.js";

/** Service definitions resolved from descriptors at run time, as a CLI would. */
export const echoDef = serviceFromRegistry(EchoService, createRegistry(file_echo_v1_echo));
export const kvDef = serviceFromRegistry(KvService, createRegistry(file_test_v1_grouped));
export const interopDef = serviceFromRegistry(InteropService, createRegistry(file_interop_v1_interop, file_interop_v1_interop_service));

/**
 * `def` with its response envelope's error case unbound (as `error_case: "-"`
 * binds it): failures then travel as a bare Cancel, as with a Rust envelope.
 */
export function withoutErrorCase<D extends ServiceDefinition>(def: D): D {
  const { error: _unbound, ...response } = def.binding.response;
  return { ...def, binding: { ...def.binding, response } };
}
