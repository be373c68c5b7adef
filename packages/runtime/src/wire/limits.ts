/** Default maximum frame size in bytes, varint prefix included (4 MiB, like the Rust client). */
export const DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024;

/** The longest a varint may be: 10 bytes carry 64 bits. */
export const MAX_VARINT_BYTES = 10;
