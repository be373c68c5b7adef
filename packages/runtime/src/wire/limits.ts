import { checkNumber } from "../util/validate.js";

/** The default largest frame, prefix included, on both sides: 4 MiB, as the Rust client's. */
export const DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024;

/** The smallest frame limit that still carries an envelope with an id, a code and a small case. */
export const MIN_FRAME_BYTES = 16;

/**
 * A `maxFrameBytes` option, checked where it enters: `MIN_FRAME_BYTES` to
 * 2^32, {@link DEFAULT_MAX_FRAME_BYTES} when not given.
 *
 * @throws RpcError `invalid_argument` naming the option.
 */
export function checkMaxFrameBytes(value: unknown): number {
  return checkNumber("maxFrameBytes", value, DEFAULT_MAX_FRAME_BYTES, { min: MIN_FRAME_BYTES, max: 2 ** 32 });
}

/** The longest a varint may be: 10 bytes carry 64 bits. */
export const MAX_VARINT_BYTES = 10;
