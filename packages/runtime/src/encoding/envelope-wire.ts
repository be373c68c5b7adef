/**
 * The envelope seam: what the connection layers need of an envelope type,
 * in any encoding. An {@link EnvelopeWire} reads and writes the message id,
 * the control code and the case (which method's message) an envelope
 * carries, and encodes or decodes a whole frame body. Each encoding has its
 * own: src/protobuf (generic-envelope-wire.ts and fast-envelope-wire.ts) and
 * src/messagepack.
 */
import type { CasePath } from "../binding/binding.js";
import type { MetadataLimits, MetadataOverLimit } from "../metadata.js";
import type { ControlCode } from "./control-code.js";
import type { MessageId } from "./message-id.js";

/** A case of an envelope (where one method's message travels), prepared for reading and writing. */
export interface WireTarget {
  /** Where the case is, as the binding names it ("body.echo"; for MessagePack, the variant or the fields that select it). */
  readonly path: CasePath;
}

/**
 * Where {@link EnvelopeWire.write} puts a frame: its bytes are `head` (if
 * any) then `body`.
 */
export interface FrameSink {
  /**
   * Queues one frame. `head` is lent for the duration of the call only (a
   * writer may reuse its buffer for the next frame): the sink copies it
   * before returning. Throws an RpcError (`resource_exhausted`, nothing
   * queued) when the frame exceeds the sink's frame limit.
   */
  send(body: Uint8Array, head?: Uint8Array): void;
}

/**
 * The call context an envelope carries besides its case, in the fields the
 * binding names (nothing is written where it names none).
 */
export interface EnvelopeContext {
  /** Metadata (request envelope) or trailers (response envelope). */
  readonly metadata?: ReadonlyMap<string, string> | undefined;
  /** Milliseconds left to the call's deadline (request envelope). */
  readonly deadlineMs?: number | undefined;
}

/** One received envelope: its id and code, and access to the message it carries. */
export interface InboundEnvelope {
  /** The message id. */
  readonly id: MessageId;
  /** The control code (unknown codes read as Cancel). */
  readonly code: ControlCode;
  /** The metadata (or trailers) it carries; undefined when none (or the binding has no metadata field). */
  readonly metadata: ReadonlyMap<string, string> | undefined;
  /** The milliseconds left to the deadline it carries; undefined when none (or not bound). */
  readonly deadlineMs: number | undefined;
  /**
   * The metadata limit this envelope's metadata goes past, when it does: its
   * metadata was then not built (it is undefined); the rest reads as usual.
   */
  readonly metadataOverLimit?: MetadataOverLimit | undefined;
  /** The target (among those registered) whose case this envelope carries, if any. */
  readonly carried: WireTarget | undefined;
  /**
   * The message at `target`, decoded (a protobuf message, or another
   * encoding's plain object); undefined
   * when the envelope carries another case. Throws on invalid bytes.
   */
  read(target: WireTarget): unknown;
}

/**
 * Encodes and decodes one envelope type on the wire, in one encoding. Built
 * once per envelope from its binding, with the cases it reads and writes.
 */
export interface EnvelopeWire {
  /**
   * The bytes of an envelope with this id and code, carrying `body` at
   * `target` and `context`, when given. `body` is a message of the target's
   * type or its init object (for protobuf, what `create()` takes; the case
   * carries `create(schema, body)`). Throws when `body` cannot be encoded.
   */
  encode(id: MessageId, code: ControlCode, target?: WireTarget, body?: unknown, context?: EnvelopeContext): Uint8Array;
  /**
   * Like {@link encode}, but hands the frame to `sink`, where it can avoid
   * copying: a bytes value of 16 KiB or more that the case message ends with
   * (a payload) goes to the sink as the frame's body, uncopied, so it must
   * not change until the call is done.
   */
  write(sink: FrameSink, id: MessageId, code: ControlCode, target?: WireTarget, body?: unknown, context?: EnvelopeContext): void;
  /**
   * Parses an envelope; throws on bytes that are not a valid envelope.
   * Metadata is counted against `limits` (default: DEFAULT_METADATA_LIMITS)
   * as it is read, and not built past them (see {@link InboundEnvelope.metadataOverLimit}).
   */
  decode(bytes: Uint8Array, limits?: MetadataLimits): InboundEnvelope;
  /** The message id in the first bytes of an envelope (possibly cut short), when they hold it. */
  peekId(head: Uint8Array): MessageId | undefined;
}
