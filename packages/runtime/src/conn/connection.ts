import type { Socket } from "node:net";
import { Code, RpcError } from "../errors.js";
import { createFrameDecoder } from "../wire/frame-decoder.js";
import { FrameError, frameTooLarge } from "../wire/frame-error.js";
import { varintSize, writeVarint } from "../wire/varint-prefix.js";

/** Options of {@link createConnection}. */
export interface ConnectionOptions {
  /** A connected socket (TCP or TLS). */
  socket: Socket;
  /** The peer's address, "host:port", for error messages. */
  peer: string;
  /** Largest frame accepted and sent, prefix included. */
  maxFrameBytes: number;
  /**
   * Called for every received frame body, in order. Throwing here is a
   * protocol violation: the connection closes with that error.
   */
  onFrame(body: Uint8Array): void;
  /** Called once when the connection closes; `error` says why. */
  onClose(error: RpcError): void;
  /** Queued outbound bytes above which {@link Connection.writable} is false. Default 1 MiB. */
  writeHighWaterBytes?: number;
}

/**
 * A framed socket: reads frames and hands them over in order; writes frames
 * in batches (many frames per socket write) and reports backpressure.
 */
export interface Connection {
  /** The peer's address, "host:port". */
  readonly peer: string;
  /** True once the connection has closed. */
  readonly closed: boolean;
  /**
   * True while the peer keeps up: fewer than the high-water bytes are queued
   * here and in the socket. Producers wait with {@link whenWritable} when it
   * is false.
   */
  readonly writable: boolean;
  /** Bytes queued and not yet handed to the socket. */
  readonly queuedBytes: number;
  /** When (Date.now()) the frame being received began, if one is incomplete. */
  readonly partialFrameSince: number | undefined;
  /** When (Date.now()) the last complete frame arrived (or the connection opened). */
  readonly lastFrameAt: number;
  /**
   * Queues one frame whose bytes are `head` (if given) followed by `body`:
   * a caller can put a small header before a large body without copying
   * it. `head`, and a body under 16 KiB, are copied before this returns (a
   * caller may reuse them); a larger body is kept until written. Throws a
   * FrameError (writing nothing) when the frame would exceed the limit, and
   * an RpcError when closed.
   */
  send(body: Uint8Array, head?: Uint8Array): void;
  /** Resolves when {@link writable} is true again (or the connection closes). */
  whenWritable(): Promise<void>;
  /** Stops reading from the socket until every pause is matched by a resume. */
  pauseReading(): void;
  /** Undoes one {@link pauseReading}. */
  resumeReading(): void;
  /** Writes out what is queued, then closes the socket. */
  end(): void;
  /** Closes at once: the socket is destroyed and `onClose` called with `error`. */
  close(error: RpcError): void;
}

const BATCH_BYTES = 64 * 1024;
/** Bodies at least this large are written as their own chunk instead of being copied into the batch. */
const COPY_LIMIT = 16 * 1024;
/** Largest staging buffer that queued frames are copied into. */
const STAGE_BYTES = 64 * 1024;
/** A connection's first staging buffer. */
const FIRST_STAGE_BYTES = 2 * 1024;

/** Wraps a connected socket in a {@link Connection}. */
export function createConnection(options: ConnectionOptions): Connection {
  const { socket, peer, maxFrameBytes } = options;
  const highWater = options.writeHighWaterBytes ?? 1024 * 1024;
  const decoder = createFrameDecoder({ maxFrameBytes });
  // Frames are copied into a staging buffer when they are queued (prefix,
  // head and small body); a large body is kept as its own chunk. `chunks`
  // holds what the next write sends, in order: sealed slices of the stage
  // and large bodies. Written slices are never reused: the stage's free tail
  // takes the next frames, and a new stage is allocated when it is full.
  // Starts small (an idle connection holds little) and doubles up to STAGE_BYTES.
  let stage = Buffer.allocUnsafe(0);
  let stagePos = 0;
  let stageStart = 0;
  let chunks: Uint8Array[] = [];
  // Bytes queued, prefixes included.
  let pendingBytes = 0;
  let flushScheduled = false;
  let closed = false;
  let ending = false;
  let pauses = 0;
  let waiters: (() => void)[] = [];

  socket.setNoDelay(true);

  let partialFrameSince: number | undefined;
  let lastFrameAt = Date.now();
  let frames = 0;
  const onFrame = (body: Uint8Array) => {
    frames++;
    options.onFrame(body);
  };
  const onData = (chunk: Buffer) => {
    const before = frames;
    try {
      // A plain Uint8Array view: decoded bytes fields are then Uint8Array, not Buffer, however the frame was split.
      decoder.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength), onFrame);
    } catch (e) {
      close(violation(e));
      return;
    }
    if (frames !== before || partialFrameSince === undefined) {
      const now = Date.now();
      if (frames !== before) lastFrameAt = now;
      partialFrameSince = decoder.atBoundary ? undefined : now;
    }
  };

  function violation(e: unknown): RpcError {
    if (e instanceof RpcError) {
      return e.withContext({ peer });
    }
    if (e instanceof FrameError) {
      return new RpcError(
        e.kind === "frame-too-large" ? Code.ResourceExhausted : Code.Internal,
        `protocol violation by peer: ${e.message}; connection closed`,
        [],
        { peer, cause: e },
      );
    }
    const message = e instanceof Error ? e.message : String(e);
    return new RpcError(Code.Internal, `protocol violation by peer: undecodable frame (${message}); connection closed`, [], { peer, cause: e });
  }

  function isWritable(): boolean {
    // Count what the socket holds too, but do not stop at its own (small)
    // high-water mark: producers keep filling our batch while the kernel drains.
    return !closed && pendingBytes + socket.writableLength < highWater;
  }

  function wake(): void {
    if (waiters.length > 0 && (closed || isWritable())) {
      const w = waiters;
      waiters = [];
      for (const f of w) f();
    }
  }

  function flush(): void {
    flushScheduled = false;
    if (closed || pendingBytes === 0 || socket.writableNeedDrain) {
      return;
    }
    seal();
    const out = chunks;
    chunks = [];
    pendingBytes = 0;
    if (out.length === 1) {
      socket.write(out[0] as Uint8Array);
    } else {
      // Slices of the stage and large bodies, in one corked writev.
      socket.cork();
      for (const c of out) socket.write(c);
      socket.uncork();
    }
    if (ending && pendingBytes === 0) {
      socket.end();
    }
    wake();
  }

  /** Closes the stage's current slice as a chunk of the next write. */
  function seal(): void {
    if (stagePos > stageStart) {
      chunks.push(stage.subarray(stageStart, stagePos));
      stageStart = stagePos;
    }
  }

  function scheduleFlush(): void {
    if (pendingBytes >= BATCH_BYTES) {
      flush();
    } else if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
  }

  function close(error: RpcError): void {
    if (closed) return;
    closed = true;
    chunks = [];
    pendingBytes = 0;
    socket.destroy();
    wake();
    options.onClose(error);
  }

  socket.on("data", onData);
  socket.on("drain", () => {
    flush();
    wake();
  });
  // Errors are built only for a connection not closed yet (an RpcError captures a stack: measurable per connection).
  socket.on("end", () => {
    if (!closed) close(new RpcError(Code.Unavailable, "connection closed by peer", [], { peer }));
  });
  socket.on("error", (err: NodeJS.ErrnoException) => {
    if (!closed) close(new RpcError(Code.Unavailable, `connection lost: ${err.code ?? err.message}`, [], { peer, cause: err }));
  });
  socket.on("close", () => {
    if (!closed) close(new RpcError(Code.Unavailable, "connection closed", [], { peer }));
  });

  return {
    peer,
    get closed() {
      return closed;
    },
    get writable() {
      return isWritable();
    },
    get queuedBytes() {
      return pendingBytes;
    },
    get partialFrameSince() {
      return partialFrameSince;
    },
    get lastFrameAt() {
      return lastFrameAt;
    },
    send(body, head) {
      if (closed) {
        throw new RpcError(Code.Unavailable, "connection is closed", [], { peer });
      }
      const headBytes = head === undefined ? 0 : head.byteLength;
      const length = headBytes + body.byteLength;
      const prefixBytes = varintSize(length);
      const frameBytes = prefixBytes + length;
      if (frameBytes > maxFrameBytes) {
        throw frameTooLarge(frameBytes, maxFrameBytes);
      }
      const large = body.byteLength >= COPY_LIMIT;
      const copied = prefixBytes + headBytes + (large ? 0 : body.byteLength);
      if (stagePos + copied > stage.length) {
        seal();
        stage = Buffer.allocUnsafe(Math.max(Math.min(STAGE_BYTES, Math.max(FIRST_STAGE_BYTES, stage.length * 2)), copied));
        stagePos = 0;
        stageStart = 0;
      }
      stagePos = writeVarint(length, stage, stagePos);
      if (head !== undefined) {
        stage.set(head, stagePos);
        stagePos += headBytes;
      }
      if (large) {
        seal();
        chunks.push(body);
      } else {
        stage.set(body, stagePos);
        stagePos += body.byteLength;
      }
      pendingBytes += frameBytes;
      scheduleFlush();
    },
    whenWritable() {
      if (isWritable() || closed) return Promise.resolve();
      return new Promise<void>((resolve) => waiters.push(resolve));
    },
    pauseReading() {
      if (pauses++ === 0) socket.pause();
    },
    resumeReading() {
      if (pauses > 0 && --pauses === 0 && !closed) socket.resume();
    },
    end() {
      if (closed || ending) return;
      ending = true;
      if (pendingBytes === 0) {
        socket.end();
      } else {
        flush();
      }
    },
    close,
  };
}
