export { createFrameDecoder, type FrameDecoder, type FrameDecoderOptions } from "./frame-decoder.js";
export { encodeFrame } from "./frame-encoder.js";
export { varintFraming, type Framing } from "./framing.js";
export { messagePackFraming } from "./messagepack-framing.js";
export { FrameError, frameTooLarge, OVERSIZE_HEAD_BYTES, type FrameErrorKind } from "./frame-error.js";
export { DEFAULT_MAX_FRAME_BYTES } from "./limits.js";
export { readLengthPrefix, varintSize, writeVarint, type PrefixRead } from "./varint-prefix.js";
