import { FrameError, frameTooLarge } from "./frame-error.js";
import { DEFAULT_MAX_FRAME_BYTES } from "./limits.js";
import { readLengthPrefix } from "./varint-prefix.js";

/** Options of {@link createFrameDecoder}. */
export interface FrameDecoderOptions {
  /** Largest accepted frame, prefix included. Default 4 MiB. */
  maxFrameBytes?: number;
}

/**
 * An incremental frame decoder: feed it the chunks of a byte stream as they
 * arrive, in any segmentation, and it hands out each frame body once it is
 * complete.
 */
export interface FrameDecoder {
  /**
   * Consumes a chunk and calls `onFrame` for every frame it completes, in
   * order. Bodies may be views into `chunk`: use them before the next push.
   * Throws a {@link FrameError} on a malformed prefix or an oversize frame;
   * the decoder is then unusable (the stream cannot be resynchronised).
   */
  push(chunk: Uint8Array, onFrame: (body: Uint8Array) => void): void;
  /** Bytes held for an incomplete frame. */
  readonly bufferedBytes: number;
  /** True when no partial frame is pending (the stream ended on a frame boundary). */
  readonly atBoundary: boolean;
}

/**
 * Creates a {@link FrameDecoder}. The size of a frame is checked as soon as
 * its prefix is read, so a frame that declares 2 GiB is refused without
 * allocating anything for it; a body is copied only when it spans chunks.
 */
export function createFrameDecoder(options: FrameDecoderOptions = {}): FrameDecoder {
  const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  // Bytes of an incomplete prefix (at most 9), carried to the next chunk.
  let head: Uint8Array | undefined;
  // A body being assembled across chunks.
  let body: Uint8Array | undefined;
  let bodyFilled = 0;
  let failed: FrameError | undefined;

  function fail(error: FrameError): never {
    failed = error;
    throw error;
  }

  function push(chunk: Uint8Array, onFrame: (body: Uint8Array) => void): void {
    if (failed !== undefined) {
      throw failed;
    }
    let bytes = chunk;
    let pos = 0;
    const end = () => bytes.byteLength;
    if (body !== undefined) {
      const take = Math.min(body.byteLength - bodyFilled, bytes.byteLength);
      body.set(bytes.subarray(0, take), bodyFilled);
      bodyFilled += take;
      pos = take;
      if (bodyFilled < body.byteLength) {
        return;
      }
      const done = body;
      body = undefined;
      onFrame(done);
    } else if (head !== undefined) {
      // Join the partial prefix with the start of this chunk; at most 10 bytes matter.
      const joined = new Uint8Array(head.byteLength + bytes.byteLength);
      joined.set(head, 0);
      joined.set(bytes, head.byteLength);
      head = undefined;
      bytes = joined;
    }
    while (pos < end()) {
      const prefix = readLengthPrefix(bytes, pos, end());
      if (prefix.kind === "incomplete") {
        head = bytes.slice(pos);
        return;
      }
      if (prefix.kind === "malformed") {
        fail(new FrameError("malformed-prefix", prefix.reason));
      }
      const frameBytes = prefix.prefixBytes + prefix.length;
      if (frameBytes > maxFrameBytes) {
        fail(
          frameTooLarge(frameBytes, maxFrameBytes),
        );
      }
      const start = pos + prefix.prefixBytes;
      const stop = start + prefix.length;
      if (stop <= end()) {
        pos = stop;
        onFrame(bytes.subarray(start, stop));
        continue;
      }
      body = new Uint8Array(prefix.length);
      bodyFilled = end() - start;
      body.set(bytes.subarray(start), 0);
      return;
    }
  }

  return {
    push,
    get bufferedBytes() {
      return (head?.byteLength ?? 0) + (body !== undefined ? bodyFilled : 0);
    },
    get atBoundary() {
      return head === undefined && body === undefined;
    },
  };
}

