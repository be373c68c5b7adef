/**
 * @protosocket/runtime/protocol — what generated code and tools need: service
 * definitions from descriptors, the envelope binding rules, envelope codecs
 * and framing. Applications import `@protosocket/runtime`.
 *
 * @private Internal API for generated code and tools; it does not follow
 * semantic versioning: any release may change it.
 * @module
 */

export { defineService, serviceFromRegistry, type ServiceDefinition } from "./service/service-definition.js";
export * from "./binding/index.js";
export { ControlCode, toControlCode } from "./envelope/control-code.js";
export { createEnvelopeCodec, type EnvelopeCodec, type EnvelopeMessage } from "./envelope/envelope-codec.js";
export { createCaseAccessor, type CaseAccessor } from "./envelope/case-accessor.js";
export { createEnvelopeWire, type EnvelopeWireOptions } from "./envelope/create-envelope-wire.js";
export type { EnvelopeWire, FrameSink, InboundEnvelope, WireTarget } from "./envelope/envelope-wire.js";
export { codecsOf, type EnvelopeCodecs, type ErrorChannel, type MethodCodec } from "./envelope/service-codecs.js";
export type { MessageId } from "./envelope/message-id.js";
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
