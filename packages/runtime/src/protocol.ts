/**
 * @protosocket/runtime/protocol — what generated code and tools need: service
 * definitions from descriptors, the envelope binding rules, envelope codecs
 * and framing, and calls made without a generated client. Applications
 * import `@protosocket/runtime`.
 *
 * @private Internal API for generated code and tools; it does not follow
 * semantic versioning: any release may change it.
 * @module
 */

export { defineService, serviceFromRegistry } from "./protobuf/define.js";
export { defineStandardService } from "./protobuf/define-standard.js";
export type { ServiceDefinition } from "./protobuf/service-definition.js";
export * from "./binding/index.js";
export { ControlCode, toControlCode } from "./encoding/control-code.js";
export { createEnvelopeCodec, type EnvelopeCodec, type EnvelopeMessage } from "./protobuf/envelope-codec.js";
export { createCaseAccessor, type CaseAccessor } from "./protobuf/case-accessor.js";
export { createEnvelopeWire, type EnvelopeWireOptions } from "./protobuf/create-envelope-wire.js";
export type { EnvelopeWire, FrameSink, InboundEnvelope, WireTarget } from "./encoding/envelope-wire.js";
export { codecsOf } from "./encoding/codecs.js";
export type { AnyServiceDefinition, Encoding, HealthCases, RpcMethod, RpcService } from "./encoding/service.js";
export { encodingOf, type EnvelopeCodecs, type ErrorChannel, type MethodCodec, type ServiceEncoding } from "./encoding/encoding.js";
export type { MessageId } from "./encoding/message-id.js";
export { clientStreamCaller, streamCaller, unaryCaller, type CallEntry } from "./call/invoke.js";
export { createCallRequest, type CallParts, type PreparedRequest } from "./call/call-request.js";
export type { FrameHandler, FrameLink } from "./conn/frame-link.js";
export { createMemoryLinkPair, type MemoryLinkOptions } from "./conn/memory-link.js";
export {
  createFrameDecoder,
  encodeFrame,
  FrameError,
  DEFAULT_MAX_FRAME_BYTES,
  messagePackFraming,
  varintFraming,
  type Framing,
  type FrameDecoder,
  type FrameDecoderOptions,
  type FrameErrorKind,
} from "./wire/index.js";
export { applyInterceptors, interceptCalls, type CallFn } from "./call/interceptor.js";
export type { AnyRequest, AnyResponse } from "./call/request.js";
export type { CallTarget } from "./call/transport.js";
