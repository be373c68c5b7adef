/**
 * The wire of the standard envelope (protosocket/v1/standard.proto):
 * `protosocket.v1.Request` and `Response`, which carry any method's message
 * as bytes and name the method by its full name. Written and read directly
 * (a tag loop, no envelope object): the header fields, then the method's
 * message written by its compiled codec straight into the frame as the
 * `body` bytes, and on reading, the body decoded only when asked, with its
 * compiled decoder. The bytes are those protobuf-es writes for the same
 * message (fields in number order, defaults left out); input this reader
 * does not expect (a field twice with another wire type, truncation, invalid
 * UTF-8) goes to `fromBinary`, which decodes it or throws.
 */
import { fromBinary, type DescMessage } from "@bufbuild/protobuf";
import type { CasePath } from "../binding/binding.js";
import { toControlCode, type ControlCode } from "../encoding/control-code.js";
import type { EnvelopeContext, EnvelopeWire, FrameSink, InboundEnvelope, WireTarget } from "../encoding/envelope-wire.js";
import { peekVarintField, toMessageId, type MessageId } from "../encoding/message-id.js";
import { DEFAULT_METADATA_LIMITS, metadataCounter, type MetadataLimits, type MetadataOverLimit } from "../metadata.js";
import { RequestSchema, ResponseSchema, type Request, type Response } from "../gen/protosocket/v1/standard_pb.js";
import { messageCodec, type MessageCodec } from "./message-codec.js";
import { scanMetadata, withoutField } from "./metadata-scan.js";
import { FALLBACK, ProtoReader } from "./proto-reader.js";
import { ProtoWriter } from "./proto-writer.js";
import type { ProtoWireTarget } from "./proto-envelope-wire.js";

/** Where one method's messages (or the error) travel in a standard envelope: the body, decoded with `codec`. */
export interface StandardTarget extends ProtoWireTarget {
  /** The method's full name ("pkg.Service/Method"); "" for the error. */
  readonly method: string;
  /** The compiled codec of the message type carried. */
  readonly codec: MessageCodec;
  /** The request's method field as written: tag, length and the UTF-8 name. */
  readonly methodField: Uint8Array;
  /** The UTF-8 name alone (a view into {@link methodField}). */
  readonly methodName: Uint8Array;
}

// Field tags (number << 3 | wire type).
const T_ID = 0x08;
const T_CODE = 0x10;
const T_METHOD = 0x1a;
const T_DEADLINE = 0x20;
const T_REQ_METADATA = 0x2a;
const T_REQ_BODY = 0x32;
const T_RES_METADATA = 0x1a;
const T_RES_ERROR = 0x22;
const T_RES_BODY = 0x2a;
/** Known field numbers, whose other wire types go to fromBinary (which throws for them). */
const REQUEST_FIELDS = 6;
const RESPONSE_FIELDS = 5;

const EMPTY = new Uint8Array(0);
/** The byte a probing request frame starts with (standard.proto): no protobuf message starts with it. */
export const PROBE = 0x00;

/** True when `frame` is a probing request frame of the standard envelope (it starts with {@link PROBE}). */
export function isProbingFrame(frame: Uint8Array): boolean {
  return frame.length > 0 && frame[0] === PROBE;
}
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const utf8 = new TextEncoder();
const scratch = new ProtoWriter(4096);
// A bytes value this large, written last (a payload), goes to the connection as it is.
scratch.tailMinBytes = 16 * 1024;
/** A scratch buffer grown past this for one large message is dropped afterwards. */
const SCRATCH_KEEP_BYTES = 1024 * 1024;
const reader = new ProtoReader(EMPTY, 0, 0);

function releaseScratch(): void {
  if (scratch.buf.length > SCRATCH_KEEP_BYTES) scratch.buf = new Uint8Array(4096);
  scratch.reset(0);
}

/** The case path the binding records for a standard target ("body" or "error"). */
function casePath(name: "body" | "error", number: number, typeName: string): CasePath {
  return { path: name, steps: [{ name, localName: name, number }], typeName };
}

/** A target for the messages of type `schema` of method `method` ("" for the error). */
export function standardTarget(method: string, schema: DescMessage, field: "body" | "error", number: number): StandardTarget {
  const name = utf8.encode(method);
  const methodField = new Uint8Array(1 + varintSize(name.length) + name.length);
  methodField[0] = T_METHOD;
  const at = writeVarint(name.length, methodField, 1);
  methodField.set(name, at);
  return {
    path: casePath(field, number, schema.typeName),
    schema,
    method,
    codec: messageCodec(schema),
    methodField,
    methodName: methodField.subarray(at),
  };
}

/** Writes the envelope header shared by both directions: id and code. */
function writeIdAndCode(w: ProtoWriter, id: MessageId, code: ControlCode): void {
  if (typeof id === "number") {
    if (id !== 0) {
      w.byte(T_ID);
      w.varintNumber(id);
    }
  } else if (id !== 0n) {
    w.byte(T_ID);
    w.uint64(id);
  }
  if (code !== 0) {
    w.byte(T_CODE);
    w.byte(code);
  }
}

/** Writes map<string, string> entries under `tag` (key and value always, as protobuf-es writes them). */
function writeMetadata(w: ProtoWriter, tag: number, metadata: ReadonlyMap<string, string>): void {
  for (const [key, value] of metadata) {
    w.byte(tag);
    const at = w.fork();
    w.byte(0x0a);
    w.string(key);
    w.byte(0x12);
    w.string(value);
    w.join(at);
  }
}

/** Writes `body` as a bytes field under `tag`, with the target's compiled codec; nothing when it encodes to no bytes. */
function writeBody(w: ProtoWriter, tag: number, t: StandardTarget, body: unknown): void {
  const start = w.pos;
  w.byte(tag);
  const at = w.fork();
  t.codec.write(body as never, w);
  if (w.pos === at + 1) w.rewind(start);
  else w.join(at);
}

/** Hands the frame in the scratch buffer to `sink` (the tail, a large payload, as the frame's body). */
function sendScratch(sink: FrameSink): void {
  const tail = scratch.tail;
  try {
    if (tail !== undefined) sink.send(tail, scratch.buf.subarray(0, scratch.tailAt));
    else sink.send(EMPTY, scratch.buf.subarray(0, scratch.pos));
  } finally {
    releaseScratch();
  }
}

/** The scratch buffer's frame as a new array. */
function copyScratch(): Uint8Array {
  try {
    return scratch.copy(0);
  } finally {
    releaseScratch();
  }
}

/** A uint64 varint as a message id (a number while exact). */
function readId(r: ProtoReader): MessageId {
  r.varint64();
  const lo = r.lo >>> 0;
  const hi = r.hi >>> 0;
  if (hi < 0x20_0000) return hi * 0x1_0000_0000 + lo;
  return toMessageId((BigInt(hi) << 32n) | BigInt(lo));
}

/** A uint64 varint as milliseconds (capped at 2^53 − 1). */
function readMillis(r: ProtoReader): number {
  r.varint64();
  const lo = r.lo >>> 0;
  const hi = r.hi >>> 0;
  return hi < 0x20_0000 ? hi * 0x1_0000_0000 + lo : MAX_SAFE;
}

/**
 * A frame's metadata as it is read: entries counted against the limits, and
 * none built once they are past (the frame reads on, without its metadata).
 */
class MetadataReader {
  map: Map<string, string> | undefined = undefined;
  over: MetadataOverLimit | undefined = undefined;
  private readonly count: (entryBytes: number) => MetadataOverLimit | undefined;

  constructor(limits: MetadataLimits) {
    this.count = metadataCounter(limits);
  }

  /** One map<string, string> entry at the reader (a length-delimited field's value). */
  read(r: ProtoReader): void {
    const start = r.pos;
    const len = r.length();
    if (this.over === undefined) this.over = this.count(len);
    if (this.over !== undefined) {
      this.map = undefined;
      r.pos += len;
      return;
    }
    r.pos = start;
    if (this.map === undefined) this.map = new Map();
    readEntry(r, this.map);
  }
}

/** One map<string, string> entry at the reader (a length-delimited field's value), into `into`. */
function readEntry(r: ProtoReader, into: Map<string, string>): void {
  const len = r.length();
  const end = r.pos + len;
  const outer = r.end;
  r.end = end;
  let key = "";
  let value = "";
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 0x0a) key = r.string(true);
    else if (tag === 0x12) value = r.string(true);
    else if (tag >>> 3 === 1 || tag >>> 3 === 2) throw FALLBACK;
    else r.skip(tag & 7, tag >>> 3, 64);
  }
  r.end = outer;
  into.set(key, value);
}

/** A map field of a message protobuf-es decoded, as a Map; undefined when empty. */
function mapOf(value: { [key: string]: string }): Map<string, string> | undefined {
  const entries = Object.entries(value);
  return entries.length === 0 ? undefined : new Map(entries);
}

/** A registered target in the hash table, chained to the others with the same hash. */
interface HashedTarget {
  readonly target: StandardTarget;
  readonly name: Uint8Array;
  readonly next: HashedTarget | undefined;
}

/**
 * The request wire: writes and reads `protosocket.v1.Request`, routing by
 * the method's name to the targets registered with it.
 */
export class StandardRequestWire implements EnvelopeWire {
  /**
   * @param probe start every frame with the probe byte 0x00 (standard.proto):
   *   a server of other envelopes refuses such frames instead of misreading them.
   */
  constructor(private readonly probe = false) {}

  private readonly byName = new Map<string, StandardTarget>();
  /** Targets by a hash of their name's bytes (requests are routed without making a string), chained by `next`. */
  private readonly byHash = new Map<number, HashedTarget>();
  /** The target the last request named: calls in a row are mostly of one method. */
  private last: HashedTarget | undefined;

  /**
   * Registers a method's request target.
   *
   * @throws Error when another target has the same method name.
   */
  register(t: StandardTarget): void {
    const other = this.byName.get(t.method);
    if (other !== undefined && other !== t) throw new Error(`two methods are named ${t.method}`);
    if (other !== undefined) return;
    this.byName.set(t.method, t);
    const hash = hashName(t.methodName, 0, t.methodName.length);
    this.byHash.set(hash, { target: t, name: t.methodName, next: this.byHash.get(hash) });
  }

  /** The registered target of a method, by full name. */
  get(method: string): StandardTarget | undefined {
    return this.byName.get(method);
  }

  encode(id: MessageId, code: ControlCode, target?: WireTarget, body?: unknown, context?: EnvelopeContext): Uint8Array {
    this.fill(id, code, target as StandardTarget | undefined, body, context);
    return copyScratch();
  }

  write(sink: FrameSink, id: MessageId, code: ControlCode, target?: WireTarget, body?: unknown, context?: EnvelopeContext): void {
    this.fill(id, code, target as StandardTarget | undefined, body, context);
    sendScratch(sink);
  }

  private fill(id: MessageId, code: ControlCode, t: StandardTarget | undefined, body: unknown, context: EnvelopeContext | undefined): void {
    const w = scratch;
    w.reset(0);
    try {
      if (this.probe) w.byte(PROBE);
      writeIdAndCode(w, id, code);
      if (t !== undefined) w.raw(t.methodField);
      if (context !== undefined) {
        const deadline = context.deadlineMs;
        if (deadline !== undefined) {
          w.byte(T_DEADLINE);
          w.varintNumber(Math.min(MAX_SAFE, Math.max(1, Math.ceil(deadline))));
        }
        const metadata = context.metadata;
        if (metadata !== undefined && metadata.size > 0) writeMetadata(w, T_REQ_METADATA, metadata);
      }
      if (t !== undefined && body !== undefined) writeBody(w, T_REQ_BODY, t, body);
    } catch (e) {
      releaseScratch();
      throw e;
    }
  }

  decode(frame: Uint8Array, limits: MetadataLimits = DEFAULT_METADATA_LIMITS): InboundEnvelope {
    // A frame may start with the probe byte, which no Request does.
    const bytes = frame.length > 0 && frame[0] === PROBE ? frame.subarray(1) : frame;
    const r = reader;
    r.reset(bytes, 0, bytes.length);
    let id: MessageId = 0;
    let code = 0;
    let deadline = 0;
    const metadata = new MetadataReader(limits);
    let methodStart = -1;
    let methodEnd = -1;
    let bodyStart = 0;
    let bodyEnd = 0;
    try {
      while (r.pos < r.end) {
        const tag = r.tag();
        switch (tag) {
          case T_ID:
            id = readId(r);
            break;
          case T_CODE:
            code = r.uint32();
            break;
          case T_METHOD: {
            const len = r.length();
            methodStart = r.pos;
            methodEnd = r.pos + len;
            r.pos = methodEnd;
            break;
          }
          case T_DEADLINE:
            deadline = readMillis(r);
            break;
          case T_REQ_METADATA:
            metadata.read(r);
            break;
          case T_REQ_BODY: {
            const len = r.length();
            bodyStart = r.pos;
            bodyEnd = r.pos + len;
            r.pos = bodyEnd;
            break;
          }
          default:
            if (tag >>> 3 <= REQUEST_FIELDS) throw FALLBACK;
            r.skip(tag & 7, tag >>> 3, 64);
        }
      }
    } catch (e) {
      if (e === FALLBACK) return this.viaFromBinary(bytes, limits);
      throw e;
    }
    const carried = methodStart < 0 ? undefined : this.find(bytes, methodStart, methodEnd);
    return new StandardInbound(
      id,
      toControlCode(code),
      metadata.map,
      metadata.over,
      deadline === 0 ? undefined : deadline,
      carried,
      undefined,
      bytes,
      bodyStart,
      bodyEnd,
    );
  }

  /**
   * The target whose name is `bytes[start, end)`, if registered: found by a
   * hash of the bytes and compared byte by byte, so no string is made.
   */
  private find(bytes: Uint8Array, start: number, end: number): StandardTarget | undefined {
    const last = this.last;
    if (last !== undefined && sameName(last.name, bytes, start, end)) return last.target;
    for (let h = this.byHash.get(hashName(bytes, start, end)); h !== undefined; h = h.next) {
      if (sameName(h.name, bytes, start, end)) {
        this.last = h;
        return h.target;
      }
    }
    // Not registered. A name that is not UTF-8 makes the frame invalid: fromBinary throws for it.
    if (!isUtf8(bytes, start, end)) fromBinary(RequestSchema, bytes);
    return undefined;
  }

  private viaFromBinary(bytes: Uint8Array, limits: MetadataLimits): InboundEnvelope {
    // Metadata past the limits is never built: the frame is decoded without it.
    const over = scanMetadata(bytes, T_REQ_METADATA >>> 3, limits);
    const m: Request = fromBinary(RequestSchema, over === undefined ? bytes : withoutField(bytes, T_REQ_METADATA >>> 3));
    const carried = m.method === "" ? undefined : this.byName.get(m.method);
    return new StandardInbound(
      toMessageId(m.messageId),
      toControlCode(m.controlCode),
      over === undefined ? mapOf(m.metadata) : undefined,
      over,
      m.deadlineMs === 0n ? undefined : m.deadlineMs > BigInt(MAX_SAFE) ? MAX_SAFE : Number(m.deadlineMs),
      carried,
      undefined,
      m.body,
      0,
      m.body.length,
    );
  }

  peekId(head: Uint8Array): MessageId | undefined {
    return peekVarintField(head.length > 0 && head[0] === PROBE ? head.subarray(1) : head, 1);
  }
}

/**
 * The response wire: writes and reads `protosocket.v1.Response`. A response
 * does not name its method (the client knows it by the id): the body is
 * decoded with the target the caller reads it with.
 */
export class StandardResponseWire implements EnvelopeWire {
  /** The last frame decoded and what it read (a connection that serves several services reads a frame twice). */
  private lastBytes: Uint8Array | undefined;
  private lastInbound: InboundEnvelope | undefined;

  /** @param error the error target (the Status in field `error`). */
  constructor(readonly error: StandardTarget) {}

  encode(id: MessageId, code: ControlCode, target?: WireTarget, body?: unknown, context?: EnvelopeContext): Uint8Array {
    this.fill(id, code, target as StandardTarget | undefined, body, context);
    return copyScratch();
  }

  write(sink: FrameSink, id: MessageId, code: ControlCode, target?: WireTarget, body?: unknown, context?: EnvelopeContext): void {
    this.fill(id, code, target as StandardTarget | undefined, body, context);
    sendScratch(sink);
  }

  private fill(id: MessageId, code: ControlCode, t: StandardTarget | undefined, body: unknown, context: EnvelopeContext | undefined): void {
    const w = scratch;
    w.reset(0);
    try {
      writeIdAndCode(w, id, code);
      const metadata = context?.metadata;
      if (metadata !== undefined && metadata.size > 0) writeMetadata(w, T_RES_METADATA, metadata);
      if (t !== undefined && body !== undefined) {
        if (t === this.error) {
          w.byte(T_RES_ERROR);
          const at = w.fork();
          t.codec.write(body as never, w);
          w.join(at);
        } else {
          writeBody(w, T_RES_BODY, t, body);
        }
      }
    } catch (e) {
      releaseScratch();
      throw e;
    }
  }

  decode(bytes: Uint8Array, limits: MetadataLimits = DEFAULT_METADATA_LIMITS): InboundEnvelope {
    if (bytes === this.lastBytes && this.lastInbound !== undefined) return this.lastInbound;
    const inbound = this.decodeNew(bytes, limits);
    this.lastBytes = bytes;
    this.lastInbound = inbound;
    return inbound;
  }

  private decodeNew(bytes: Uint8Array, limits: MetadataLimits): InboundEnvelope {
    const r = reader;
    r.reset(bytes, 0, bytes.length);
    let id: MessageId = 0;
    let code = 0;
    const metadata = new MetadataReader(limits);
    let errorStart = -1;
    let errorEnd = -1;
    let bodyStart = 0;
    let bodyEnd = 0;
    try {
      while (r.pos < r.end) {
        const tag = r.tag();
        switch (tag) {
          case T_ID:
            id = readId(r);
            break;
          case T_CODE:
            code = r.uint32();
            break;
          case T_RES_METADATA:
            metadata.read(r);
            break;
          case T_RES_ERROR: {
            // A message field seen twice is merged by fromBinary: leave that to it.
            if (errorStart >= 0) throw FALLBACK;
            const len = r.length();
            errorStart = r.pos;
            errorEnd = r.pos + len;
            r.pos = errorEnd;
            break;
          }
          case T_RES_BODY: {
            const len = r.length();
            bodyStart = r.pos;
            bodyEnd = r.pos + len;
            r.pos = bodyEnd;
            break;
          }
          default:
            if (tag >>> 3 <= RESPONSE_FIELDS) throw FALLBACK;
            r.skip(tag & 7, tag >>> 3, 64);
        }
      }
    } catch (e) {
      if (e === FALLBACK) return this.viaFromBinary(bytes, limits);
      throw e;
    }
    const c = toControlCode(code);
    if (errorStart >= 0) {
      return new StandardInbound(id, c, metadata.map, metadata.over, undefined, this.error, this.error, bytes, errorStart, errorEnd);
    }
    return new StandardInbound(id, c, metadata.map, metadata.over, undefined, undefined, undefined, bytes, bodyStart, bodyEnd);
  }

  private viaFromBinary(bytes: Uint8Array, limits: MetadataLimits): InboundEnvelope {
    // Trailers past the limits are never built: the frame is decoded without them.
    const over = scanMetadata(bytes, T_RES_METADATA >>> 3, limits);
    const m: Response = fromBinary(ResponseSchema, over === undefined ? bytes : withoutField(bytes, T_RES_METADATA >>> 3));
    const id = toMessageId(m.messageId);
    const code = toControlCode(m.controlCode);
    const metadata = over === undefined ? mapOf(m.metadata) : undefined;
    if (m.error !== undefined) {
      const error = m.error;
      return {
        id,
        code,
        metadata,
        metadataOverLimit: over,
        deadlineMs: undefined,
        carried: this.error,
        read: (t) => (t === this.error ? error : undefined),
      };
    }
    return new StandardInbound(id, code, metadata, over, undefined, undefined, undefined, m.body, 0, m.body.length);
  }

  peekId(head: Uint8Array): MessageId | undefined {
    return peekVarintField(head, 1);
  }
}

/**
 * A received standard envelope. Requests: `carried` is the method's target
 * (by name), and {@link read} decodes the body with it. Responses: `carried`
 * is the error target when the frame carries an error, and reading any
 * other target decodes the body with that target's codec (the caller knows
 * the method by the id).
 */
class StandardInbound implements InboundEnvelope {
  constructor(
    readonly id: MessageId,
    readonly code: ControlCode,
    readonly metadata: ReadonlyMap<string, string> | undefined,
    readonly metadataOverLimit: MetadataOverLimit | undefined,
    readonly deadlineMs: number | undefined,
    readonly carried: StandardTarget | undefined,
    /** For responses: the error target when the frame carries the error. */
    private readonly error: StandardTarget | undefined,
    private readonly bytes: Uint8Array,
    private readonly start: number,
    private readonly end: number,
  ) {}

  read(target: WireTarget): unknown {
    const t = target as StandardTarget;
    if (this.error !== undefined) return t === this.error ? t.codec.decode(this.bytes, this.start, this.end) : undefined;
    const carried = this.carried;
    if (carried !== undefined && t !== carried) return undefined;
    if (t.method === "" && carried === undefined) return undefined;
    return t.codec.decode(this.bytes, this.start, this.end);
  }
}

/** True when `bytes[start, end)` holds `name` (compared from the end, where method names differ). */
function sameName(name: Uint8Array, bytes: Uint8Array, start: number, end: number): boolean {
  let i = name.length;
  if (i !== end - start) return false;
  while (i > 0) {
    i--;
    if (name[i] !== bytes[start + i]) return false;
  }
  return true;
}

/**
 * A hash of a method name's bytes `bytes[start, end)`: its length and its
 * last 12 bytes (FNV-1a), where names of one server differ (the method, the
 * end of the service's name); names that share it are told apart by
 * {@link sameName}.
 */
function hashName(bytes: Uint8Array, start: number, end: number): number {
  let h = Math.imul(0x811c9dc5 ^ (end - start), 0x01000193);
  for (let i = Math.max(start, end - 12); i < end; i++) h = Math.imul(h ^ (bytes[i] as number), 0x01000193);
  // A small integer (31 bits), which a Map finds faster than a heap number.
  return h & 0x3fff_ffff;
}

const strictDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** True when `bytes[start, end)` is valid UTF-8. */
function isUtf8(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    if ((bytes[i] as number) > 0x7f) {
      try {
        strictDecoder.decode(bytes.subarray(start, end));
        return true;
      } catch {
        return false;
      }
    }
  }
  return true;
}

function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

function writeVarint(value: number, out: Uint8Array, pos: number): number {
  while (value >= 0x80) {
    out[pos++] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  out[pos++] = value;
  return pos;
}
