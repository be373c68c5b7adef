/**
 * @protosocket/runtime — protobuf RPC over plain TCP and TLS, wire-compatible
 * with the Rust protosocket-rpc crate.
 */

// Relevant to applications.
export { connect, type ConnectOptions, type Transport } from "./client/transport.js";
export { createClient } from "./client/create-client.js";
export type { CallOptions, Client, ServerStreamingFn, UnaryFn } from "./client/client-types.js";
export { createServer, type CloseOptions, type ListenOptions, type Server, type ServerAddress, type ServerOptions } from "./server/server.js";
export type { HandlerContext, ServerStreamingHandler, ServiceImpl, UnaryHandler } from "./server/handler-types.js";
export { Code, codeToString, RpcError, type RpcErrorContext } from "./errors.js";
export type { ClientTlsOptions, ServerTlsOptions } from "./conn/socket-options.js";

// Relevant to generated code and tools.
export { defineService, serviceFromRegistry, type ServiceDefinition } from "./service/service-definition.js";
export type { ServiceBinding, MethodBinding, CasePath, FieldStep, EnvelopeFields, ErrorCase, MethodKind } from "./binding/binding.js";
export { BindingError, resolveServiceBinding } from "./binding/resolve.js";
export { ControlCode, toControlCode } from "./envelope/control-code.js";
export { createEnvelopeCodec, type EnvelopeCodec, type EnvelopeMessage } from "./envelope/envelope-codec.js";
export { createCaseAccessor, type CaseAccessor } from "./envelope/case-accessor.js";
export { createProtobufCodec, type Codec } from "./codec/codec.js";
export {
  createFrameDecoder,
  encodeFrame,
  FrameError,
  DEFAULT_MAX_FRAME_BYTES,
  type FrameDecoder,
  type FrameDecoderOptions,
  type FrameErrorKind,
} from "./wire/index.js";
