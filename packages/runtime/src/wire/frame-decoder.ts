import { FrameError, frameTooLarge, OVERSIZE_HEAD_BYTES } from "./frame-error.js";
import { varintFraming, type Framing } from "./framing.js";
import { DEFAULT_MAX_FRAME_BYTES } from "./limits.js";

/** Options of {@link createFrameDecoder}. */
export interface FrameDecoderOptions {
  /** Largest accepted frame, prefix included. Default 4 MiB. */
  maxFrameBytes?: number;
  /** How frames are delimited. Default: the varint framing of protobuf envelopes. */
  framing?: Framing;
}

/**
 * An incremental frame decoder: feed it the chunks of a byte stream as they
 * arrive, in any segmentation, and it hands out each frame body once it is
 * complete.
 */
export interface FrameDecoder {
  /**
   * Consumes a chunk and calls `onFrame` for every frame it completes, in
   * order. Bodies may be views into `chunk`, and the decoder keeps views of
   * the chunks of an incomplete frame: do not modify a chunk once pushed.
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
 * allocating anything for it; a body is copied (once, when complete) only
 * when it spans chunks, so what an incomplete frame holds is what arrived.
 */
export function createFrameDecoder(options: FrameDecoderOptions = {}): FrameDecoder {
  const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const readPrefix = (options.framing ?? varintFraming).readPrefix;
  // Bytes of an incomplete prefix (shorter than the framing's longest), carried to the next chunk.
  let head: Uint8Array | undefined;
  // The parts received so far of a body that spans chunks, and the body's size.
  // Memory follows the bytes received, not the size a peer declares.
  let parts: Uint8Array[] = [];
  let partsBytes = 0;
  let bodyBytes = -1;
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
    if (bodyBytes >= 0) {
      const take = Math.min(bodyBytes - partsBytes, bytes.byteLength);
      parts.push(bytes.subarray(0, take));
      partsBytes += take;
      pos = take;
      if (partsBytes < bodyBytes) {
        return;
      }
      const body = new Uint8Array(bodyBytes);
      let o = 0;
      for (const p of parts) {
        body.set(p, o);
        o += p.byteLength;
      }
      parts = [];
      partsBytes = 0;
      bodyBytes = -1;
      onFrame(body);
    } else if (head !== undefined) {
      // Join the partial prefix with the start of this chunk; only the prefix's bytes matter.
      const joined = new Uint8Array(head.byteLength + bytes.byteLength);
      joined.set(head, 0);
      joined.set(bytes, head.byteLength);
      head = undefined;
      bytes = joined;
    }
    const end = bytes.byteLength;
    while (pos < end) {
      const prefix = readPrefix(bytes, pos, end);
      if (prefix.kind === "incomplete") {
        head = bytes.slice(pos);
        return;
      }
      if (prefix.kind === "malformed") {
        fail(new FrameError("malformed-prefix", prefix.reason));
      }
      const frameBytes = prefix.prefixBytes + prefix.length;
      if (frameBytes > maxFrameBytes) {
        const bodyStart = pos + prefix.prefixBytes;
        fail(frameTooLarge(frameBytes, maxFrameBytes, bytes.slice(bodyStart, Math.min(end, bodyStart + OVERSIZE_HEAD_BYTES))));
      }
      const start = pos + prefix.prefixBytes;
      const stop = start + prefix.length;
      if (stop <= end) {
        pos = stop;
        onFrame(bytes.subarray(start, stop));
        continue;
      }
      // The rest of this chunk begins a body that later chunks complete. Chunks
      // are not copied until the body is whole (the caller must not reuse them).
      bodyBytes = prefix.length;
      partsBytes = end - start;
      // A small tail is copied so it does not keep its whole chunk alive.
      parts = [partsBytes * 4 < end ? bytes.slice(start) : bytes.subarray(start)];
      return;
    }
  }

  return {
    push,
    get bufferedBytes() {
      return (head?.byteLength ?? 0) + partsBytes;
    },
    get atBoundary() {
      return head === undefined && bodyBytes < 0;
    },
  };
}
