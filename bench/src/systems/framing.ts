// Varint-length-prefixed frames for the raw-TCP ceiling: an incremental reader that
// gives the same frames for any TCP segmentation, and a writer that batches every frame
// queued during one event-loop turn into a single socket write.

import type { Socket } from "node:net";

const MAX_FRAME = 64 * 1024 * 1024;

export class FrameReader {
  /** Bytes of an incomplete frame, kept as received until the frame is whole. */
  private parts: Buffer[] = [];
  private partsLength = 0;
  /** Total bytes (prefix included) of the incomplete frame once its prefix is known, else 0. */
  private need = 0;

  constructor(private readonly onFrame: (frame: Uint8Array) => void) {}

  push(chunk: Buffer): void {
    let data = chunk;
    if (this.partsLength > 0) {
      this.parts.push(chunk);
      this.partsLength += chunk.length;
      if (this.need !== 0 && this.partsLength < this.need) return;
      data = Buffer.concat(this.parts, this.partsLength);
      this.parts = [];
      this.partsLength = 0;
      this.need = 0;
    }
    const end = data.length;
    let pos = 0;
    while (pos < end) {
      let p = pos;
      let len = 0;
      let shift = 0;
      let complete = false;
      while (p < end) {
        const b = data[p++]!;
        len += (b & 0x7f) * 2 ** shift;
        if ((b & 0x80) === 0) {
          complete = true;
          break;
        }
        shift += 7;
        if (shift > 35) throw new Error("raw framing: malformed length prefix");
      }
      if (!complete) {
        this.keep(data.subarray(pos), 0);
        return;
      }
      if (len > MAX_FRAME) throw new Error(`raw framing: frame of ${len} bytes is over the limit`);
      if (p + len > end) {
        this.keep(data.subarray(pos), p - pos + len);
        return;
      }
      this.onFrame(data.subarray(p, p + len));
      pos = p + len;
    }
  }

  private keep(rest: Buffer, need: number): void {
    this.parts.push(rest);
    this.partsLength = rest.length;
    this.need = need;
  }
}

function varintLength(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

/** Frames at least this large are handed to the socket as they are instead of being copied. */
const COPY_LIMIT = 16 * 1024;

export class FrameWriter {
  private frames: Uint8Array[] = [];
  /** Bytes of the small frames and of every prefix: what flush copies into one buffer. */
  private copied = 0;
  private large = 0;
  private scheduled = false;

  constructor(private readonly socket: Socket) {}

  /** Queues one frame; everything queued in this event-loop turn goes out in one write. */
  write(frame: Uint8Array): void {
    this.frames.push(frame);
    const prefix = varintLength(frame.length);
    if (frame.length >= COPY_LIMIT) {
      this.copied += prefix;
      this.large++;
    } else {
      this.copied += prefix + frame.length;
    }
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  /** Writes what is queued now. Returns false when the socket asks to wait for 'drain'. */
  readonly flush = (): boolean => {
    this.scheduled = false;
    const frames = this.frames;
    if (frames.length === 0) return true;
    const out = Buffer.allocUnsafe(this.copied);
    const large = this.large;
    this.frames = [];
    this.copied = 0;
    this.large = 0;
    if (this.socket.destroyed) return true;
    let pos = 0;
    let start = 0;
    let ok = true;
    // Large frames go out as their own chunks between slices of `out` (one writev, corked).
    if (large > 0) this.socket.cork();
    for (let i = 0; i < frames.length; i++) {
      const frame = frames[i]!;
      let n = frame.length;
      while (n >= 0x80) {
        out[pos++] = (n & 0x7f) | 0x80;
        n = Math.floor(n / 128);
      }
      out[pos++] = n;
      if (frame.length >= COPY_LIMIT) {
        ok = this.socket.write(out.subarray(start, pos)) && ok;
        ok = this.socket.write(frame) && ok;
        start = pos;
      } else {
        out.set(frame, pos);
        pos += frame.length;
      }
    }
    if (pos > start) ok = this.socket.write(start === 0 ? out : out.subarray(start, pos)) && ok;
    if (large > 0) this.socket.uncork();
    return ok;
  };
}
