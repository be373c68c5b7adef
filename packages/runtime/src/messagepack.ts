/**
 * @protosocket/runtime/messagepack — MessagePack services, wire-compatible
 * with the Rust protosocket-messagepack crate: schemas of serde types,
 * envelope bindings and service definitions. Clients and servers come from
 * `@protosocket/runtime` (`createClient`, `createServer().register`), as for
 * protobuf services.
 *
 * ```ts
 * import * as mp from "@protosocket/runtime/messagepack";
 * interface EchoRequest { message: string; nanotime: number | bigint }
 * const EchoRequest = mp.struct<EchoRequest>("EchoRequest", { message: mp.string, nanotime: mp.u64 });
 * ```
 * @module
 */

export {
  bool,
  bytes,
  enumeration,
  errorDetails,
  f64,
  i16,
  i32,
  i64,
  i8,
  map,
  option,
  string,
  struct,
  u16,
  u32,
  u64,
  u8,
  vec,
  type EnumValue,
  type ErrorDetail,
  type Infer,
  type Schema,
  type StructFields,
  type StructSchema,
  type Variants,
} from "./messagepack/schema.js";
export {
  serverStreaming,
  unary,
  type CaseSpec,
  type CaseSpecs,
  type EnvelopeSpec,
  type ErrorCaseSpec,
  type FieldRole,
  type FieldSpec,
  type MessagePackMethod,
  type MessagePackMethodKind,
  type MessagePackMethods,
  type MessagePackMethodSpec,
  type MessagePackService,
  type MessagePackServiceSpec,
} from "./messagepack/service.js";
export { defineMessagePackService } from "./messagepack/define.js";
export type { MessagePackClient } from "./client/client-types.js";
export type { HandlerContext, MessagePackHandlers } from "./server/handler-types.js";
