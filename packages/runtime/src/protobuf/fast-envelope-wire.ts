/**
 * The specialised envelope codec. An envelope on our hot path holds at most
 * three fields: the id (varint), the control code (varint) and one case (a
 * length-delimited message). Instead of building an envelope object and
 * walking its descriptor with toBinary/fromBinary, this codec writes those
 * fields directly around the case message, written by its compiled codec
 * (src/protobuf), and reads them with a small tag loop that decodes the case
 * message only when asked (with the compiled decoder of its schema).
 *
 * It writes what protobuf-es and prost write (fields in ascending number
 * order, id and code omitted when 0, an empty case as tag + 00), so the bytes
 * are identical; the interop vectors check that. Whatever it does not expect
 * on input (a case field twice, a known field with another wire type,
 * groups, truncation) it hands to the generic codec, which either decodes it
 * or throws the protobuf error.
 */
import type { DescMessage, Message, MessageInitShape } from "@bufbuild/protobuf";
import { FeatureSet_FieldPresence } from "@bufbuild/protobuf/wkt";
import type { CasePath, EnvelopeFields } from "../binding/binding.js";
import type { MetadataLimits } from "../metadata.js";
import { messageCodec, ProtoWriter, type MessageCodec } from "../protobuf/index.js";
import { varintSize, writeVarint } from "../wire/varint-prefix.js";
import { toControlCode, type ControlCode } from "../encoding/control-code.js";
import type { EnvelopeContext, FrameSink, InboundEnvelope, WireTarget } from "../encoding/envelope-wire.js";
import type { ProtoEnvelopeWire, ProtoWireTarget } from "./proto-envelope-wire.js";
import { createGenericEnvelopeWire } from "./generic-envelope-wire.js";
import { peekVarintField, type MessageId } from "../encoding/message-id.js";

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const WIRE_VARINT = 0;
const WIRE_LEN = 2;

/** True when every path is a single field of the envelope and id and code have implicit presence. */
export function fastPathPossible(schema: DescMessage, fields: EnvelopeFields, paths: readonly CasePath[]): boolean {
  const id = schema.fields.find((f) => f.number === fields.id.number);
  const code = schema.fields.find((f) => f.number === fields.code.number);
  if (id === undefined || code === undefined) return false;
  if (id.presence !== FeatureSet_FieldPresence.IMPLICIT || code.presence !== FeatureSet_FieldPresence.IMPLICIT) return false;
  return paths.every((p) => p.steps.length === 1);
}

interface FastTarget extends ProtoWireTarget {
  /** Field number of the case. */
  readonly field: number;
  /** The tag bytes of the case (field, wire type 2). */
  readonly tag: Uint8Array;
  /** True when the case's field number is above the id's and the code's: it is written last. */
  readonly last: boolean;
  /** The compiled codec of the case's message type. */
  readonly codec: MessageCodec;
}

/** Room left before a case message in the scratch buffer for the envelope header written after it. */
const HEADROOM = 32;
const EMPTY = new Uint8Array(0);
const scratch = new ProtoWriter(4096);
// A bytes value this large, written last, goes to the connection as it is
// (the connection's own copy limit): a 64 KiB payload is not copied by us.
scratch.tailMinBytes = 16 * 1024;
/** A scratch buffer grown past this for one large message is dropped afterwards. */
const SCRATCH_KEEP_BYTES = 1024 * 1024;

/** The size of the shared scratch buffer (for tests: it must not stay grown after a large message). */
export function scratchBytes(): number {
  return scratch.buf.length;
}

/** Forgets the last frame (and the payload it may reference); drops a buffer grown large by one message. */
function releaseScratch(): void {
  if (scratch.buf.length > SCRATCH_KEEP_BYTES) scratch.buf = new Uint8Array(4096);
  scratch.reset(0);
}

function tagBytes(field: number, wireType: number): Uint8Array {
  const value = field * 8 + wireType;
  const out = new Uint8Array(varintSize(value));
  writeVarint(value, out, 0);
  return out;
}

/** Thrown inside the parser to hand an envelope to the generic codec. */
const FALLBACK = Symbol("fallback");

/** Creates the specialised {@link EnvelopeWire}; callers check {@link fastPathPossible} first. */
export function createFastEnvelopeWire(schema: DescMessage, fields: EnvelopeFields, paths: readonly CasePath[]): ProtoEnvelopeWire {
  const generic = createGenericEnvelopeWire(schema, fields, paths);
  const idField = fields.id.number;
  const codeField = fields.code.number;
  // Envelopes that carry metadata or a deadline take the generic path both ways: calls
  // without them (every call on an envelope that binds neither) stay on this one.
  const metadataField = fields.metadata?.number ?? -1;
  const deadlineField = fields.deadline?.number ?? -1;
  const hasContext = (context: EnvelopeContext | undefined): boolean =>
    context !== undefined &&
    ((metadataField >= 0 && context.metadata !== undefined && context.metadata.size > 0) ||
      (deadlineField >= 0 && context.deadlineMs !== undefined));
  const idTag = tagBytes(idField, WIRE_VARINT);
  const codeTag = tagBytes(codeField, WIRE_VARINT);
  const byField = new Map<number, FastTarget>();
  const byPath = new Map<string, FastTarget>();
  // Field number → its oneof, for every oneof field of the envelope: a later
  // field of the same oneof replaces a case read before it ("last one wins").
  const oneofOf = new Map<number, unknown>();
  for (const f of schema.fields) if (f.oneof !== undefined) oneofOf.set(f.number, f.oneof);
  // The envelope's declared fields: one that is not the id, the code or a registered case is
  // left to the generic codec, so both read every input alike.
  const declaredFields = new Set<number>(schema.fields.map((f) => f.number));

  const target = (path: CasePath): FastTarget => {
    let t = byPath.get(path.path);
    if (t !== undefined) return t;
    const step = path.steps[0];
    const field = step === undefined ? undefined : schema.fields.find((f) => f.number === step.number);
    if (step === undefined || path.steps.length !== 1 || field === undefined || field.fieldKind !== "message") {
      throw new Error(`case path "${path.path}" is not a message field of ${schema.typeName}`);
    }
    generic.target(path);
    t = {
      path,
      schema: field.message,
      field: step.number,
      tag: tagBytes(step.number, WIRE_LEN),
      last: step.number > idField && step.number > codeField,
      codec: messageCodec(field.message),
    };
    byPath.set(path.path, t);
    byField.set(step.number, t);
    return t;
  };
  for (const p of paths) target(p);

  function encode(
    id: MessageId,
    code: ControlCode,
    t?: WireTarget,
    body?: MessageInitShape<DescMessage>,
    context?: EnvelopeContext,
  ): Uint8Array {
    if (hasContext(context)) return generic.encode(id, code, t === undefined ? undefined : generic.target(t.path), body, context);
    const ft = t as FastTarget | undefined;
    const bodyBytes = ft !== undefined && body !== undefined ? ft.codec.encode(body) : undefined;
    const hasId = id !== 0 && id !== 0n;
    let size = 0;
    if (hasId) size += idTag.length + (typeof id === "number" ? varintSize(id) : bigVarintSize(id));
    if (code !== 0) size += codeTag.length + 1;
    if (bodyBytes !== undefined && ft !== undefined) size += ft.tag.length + varintSize(bodyBytes.length) + bodyBytes.length;
    const out = new Uint8Array(size);
    let pos = 0;
    // Ascending field numbers, as protobuf-es and prost write them.
    const bodyField = bodyBytes !== undefined && ft !== undefined ? ft.field : Number.POSITIVE_INFINITY;
    let wroteId = !hasId;
    let wroteCode = code === 0;
    let wroteBody = bodyBytes === undefined;
    while (!(wroteId && wroteCode && wroteBody)) {
      const nextId = wroteId ? Number.POSITIVE_INFINITY : idField;
      const nextCode = wroteCode ? Number.POSITIVE_INFINITY : codeField;
      const nextBody = wroteBody ? Number.POSITIVE_INFINITY : bodyField;
      if (nextId < nextCode && nextId < nextBody) {
        out.set(idTag, pos);
        pos += idTag.length;
        pos = typeof id === "number" ? writeVarint(id, out, pos) : writeBigVarint(id, out, pos);
        wroteId = true;
      } else if (nextCode < nextBody) {
        out.set(codeTag, pos);
        pos += codeTag.length;
        out[pos++] = code;
        wroteCode = true;
      } else {
        const b = bodyBytes as Uint8Array;
        const bt = ft as FastTarget;
        out.set(bt.tag, pos);
        pos += bt.tag.length;
        pos = writeVarint(b.length, out, pos);
        out.set(b, pos);
        pos += b.length;
        wroteBody = true;
      }
    }
    return out;
  }

  /**
   * Writes a frame. When the case comes last on the wire (the usual layout),
   * the case message is written by its compiled codec into a reused scratch
   * buffer after room for the header, the header (id, code, the case's tag
   * and length) just before it, and the frame goes to the sink in one piece,
   * which copies it. A large bytes value written last (a payload) is not
   * copied into the scratch buffer: it follows as the frame's body. An init
   * object is written as it is, without create().
   */
  function write(
    sink: FrameSink,
    id: MessageId,
    code: ControlCode,
    t?: WireTarget,
    body?: MessageInitShape<DescMessage>,
    context?: EnvelopeContext,
  ): void {
    const ft = t as FastTarget | undefined;
    if (ft === undefined || body === undefined || !ft.last || hasContext(context)) {
      sink.send(encode(id, code, t, body, context));
      return;
    }
    const hasId = id !== 0 && id !== 0n;
    scratch.reset(HEADROOM);
    try {
      ft.codec.write(body, scratch);
    } catch (e) {
      releaseScratch();
      throw e;
    }
    const leafLength = scratch.pos - HEADROOM;
    const size = headerSize(id, hasId, code, ft, leafLength);
    if (size > HEADROOM) {
      // A header longer than any id, code and case can make: never happens; stay correct anyway.
      releaseScratch();
      sink.send(encode(id, code, t, body));
      return;
    }
    const buf = scratch.buf;
    const start = HEADROOM - size;
    putHeader(buf, start, id, hasId, code, ft, leafLength);
    const tail = scratch.tail;
    try {
      if (tail !== undefined) sink.send(tail, buf.subarray(start, scratch.tailAt));
      else sink.send(EMPTY, buf.subarray(start, scratch.pos));
    } finally {
      releaseScratch();
    }
  }

  /** Bytes of the header before a case message of `leafLength` bytes: id, code, the case's tag and length. */
  function headerSize(id: MessageId, hasId: boolean, code: ControlCode, ft: FastTarget, leafLength: number): number {
    const idSize = hasId ? idTag.length + (typeof id === "number" ? varintSize(id) : bigVarintSize(id)) : 0;
    const codeSize = code !== 0 ? codeTag.length + 1 : 0;
    return idSize + codeSize + ft.tag.length + varintSize(leafLength);
  }

  /** Writes that header at `pos` (id and code in field-number order; the case comes last). */
  function putHeader(
    buf: Uint8Array,
    pos: number,
    id: MessageId,
    hasId: boolean,
    code: ControlCode,
    ft: FastTarget,
    leafLength: number,
  ): void {
    if (idField < codeField) {
      pos = putId(buf, pos, idTag, id, hasId);
      pos = putCode(buf, pos, codeTag, code);
    } else {
      pos = putCode(buf, pos, codeTag, code);
      pos = putId(buf, pos, idTag, id, hasId);
    }
    buf.set(ft.tag, pos);
    writeVarint(leafLength, buf, pos + ft.tag.length);
  }

  function decode(bytes: Uint8Array, limits?: MetadataLimits): InboundEnvelope {
    let pos = 0;
    const end = bytes.length;
    let id: MessageId = 0;
    let code = 0;
    let carried: FastTarget | undefined;
    let caseStart = 0;
    let caseEnd = 0;
    try {
      while (pos < end) {
        // Tag.
        let tag = 0;
        let shift = 0;
        for (;;) {
          if (pos >= end || shift > 28) throw FALLBACK;
          const b = bytes[pos++] as number;
          if (shift === 28 && b > 0x0f) throw FALLBACK; // tags are 32 bits; leave the rest to protobuf-es
          tag += (b & 0x7f) * 2 ** shift;
          if (b < 0x80) break;
          shift += 7;
        }
        const field = Math.floor(tag / 8);
        const wireType = tag & 7;
        if (field === 0 || field === metadataField || field === deadlineField) throw FALLBACK;
        if (field === idField || field === codeField) {
          if (wireType !== WIRE_VARINT) throw FALLBACK;
          // Varint: as a number while exact, re-read as a bigint past 49 bits.
          const start = pos;
          let value = 0;
          let mul = 1;
          let n = 0;
          for (;;) {
            if (pos >= end || n >= 10) throw FALLBACK;
            const b = bytes[pos++] as number;
            n++;
            value += (b & 0x7f) * mul;
            if (b < 0x80) break;
            mul *= 128;
          }
          if (field === idField) {
            id = n <= 7 ? value : readBigId(bytes, start, pos);
          } else {
            // uint32: the low 32 bits of the varint.
            code = n <= 4 ? value : readLow32(bytes, start, pos);
          }
          continue;
        }
        const t = byField.get(field);
        if (carried !== undefined && t !== carried) {
          const oneof = oneofOf.get(field);
          // Another member of the carried case's oneof: the case is replaced.
          if (oneof !== undefined && oneof === oneofOf.get(carried.field)) carried = undefined;
        }
        if (t !== undefined) {
          if (wireType !== WIRE_LEN || carried !== undefined) throw FALLBACK;
          const len = readLength(bytes, pos, end);
          pos = lengthEnd;
          if (pos + len > end) throw FALLBACK;
          carried = t;
          caseStart = pos;
          caseEnd = pos + len;
          pos = caseEnd;
          continue;
        }
        // A declared field that is none of the above (a case of a method these codecs do not
        // carry, a field of the envelope's own): the generic codec reads it, and fails where
        // fromBinary fails. Only unknown fields are skipped here.
        if (declaredFields.has(field)) throw FALLBACK;
        pos = skipField(bytes, pos, end, wireType);
      }
    } catch (e) {
      // Metadata, among others, goes this way: the generic codec counts it against the limits.
      if (e === FALLBACK) return viaGeneric(bytes, limits);
      throw e;
    }
    return new FastInbound(id, toControlCode(code), carried, bytes, caseStart, caseEnd);
  }

  /** Decodes with the generic codec, answering in terms of this codec's targets. */
  function viaGeneric(bytes: Uint8Array, limits: MetadataLimits | undefined): InboundEnvelope {
    const g = generic.decode(bytes, limits);
    return {
      id: g.id,
      code: g.code,
      metadata: g.metadata,
      deadlineMs: g.deadlineMs,
      metadataOverLimit: g.metadataOverLimit,
      carried: g.carried === undefined ? undefined : byPath.get(g.carried.path.path),
      read: (t) => g.read(generic.target(t.path)),
    };
  }

  return { schema, fast: true, target, encode, write, decode, peekId: (head) => peekVarintField(head, idField) };
}

/** A parsed envelope; its case message is decoded on {@link read}. */
class FastInbound implements InboundEnvelope {
  get metadata(): undefined {
    return undefined;
  }

  get deadlineMs(): undefined {
    return undefined;
  }

  constructor(
    readonly id: MessageId,
    readonly code: ControlCode,
    readonly carried: FastTarget | undefined,
    private readonly bytes: Uint8Array,
    private readonly caseStart: number,
    private readonly caseEnd: number,
  ) {}

  read(t: WireTarget): Message | undefined {
    const c = this.carried;
    if (t !== c || c === undefined) return undefined;
    return c.codec.decode(this.bytes, this.caseStart, this.caseEnd);
  }
}

function putId(out: Uint8Array, pos: number, tag: Uint8Array, id: MessageId, hasId: boolean): number {
  if (!hasId) return pos;
  out.set(tag, pos);
  pos += tag.length;
  return typeof id === "number" ? writeVarint(id, out, pos) : writeBigVarint(id, out, pos);
}

function putCode(out: Uint8Array, pos: number, tag: Uint8Array, code: ControlCode): number {
  if (code === 0) return pos;
  out.set(tag, pos);
  out[pos + tag.length] = code;
  return pos + tag.length + 1;
}

let lengthEnd = 0;

/** Reads a length varint at `pos` (at most 5 bytes); the position after it goes to `lengthEnd`. */
function readLength(bytes: Uint8Array, pos: number, end: number): number {
  let value = 0;
  let mul = 1;
  for (let n = 0; n < 5; n++) {
    if (pos >= end) throw FALLBACK;
    const b = bytes[pos++] as number;
    value += (b & 0x7f) * mul;
    if (b < 0x80) {
      lengthEnd = pos;
      return value;
    }
    mul *= 128;
  }
  throw FALLBACK;
}

function skipField(bytes: Uint8Array, pos: number, end: number, wireType: number): number {
  switch (wireType) {
    case 0:
      for (let n = 0; n < 10; n++) {
        if (pos >= end) throw FALLBACK;
        if ((bytes[pos++] as number) < 0x80) return pos;
      }
      throw FALLBACK;
    case 1:
      if (pos + 8 > end) throw FALLBACK;
      return pos + 8;
    case 2: {
      const len = readLength(bytes, pos, end);
      if (lengthEnd + len > end) throw FALLBACK;
      return lengthEnd + len;
    }
    case 5:
      if (pos + 4 > end) throw FALLBACK;
      return pos + 4;
    default:
      throw FALLBACK; // groups and invalid wire types: the generic codec decides
  }
}

function readBigId(bytes: Uint8Array, start: number, stop: number): MessageId {
  let value = 0n;
  for (let i = stop - 1; i >= start; i--) value = (value << 7n) | BigInt((bytes[i] as number) & 0x7f);
  value &= 0xffff_ffff_ffff_ffffn;
  return value <= BigInt(MAX_SAFE) ? Number(value) : value;
}

function readLow32(bytes: Uint8Array, start: number, stop: number): number {
  let value = 0;
  for (let i = start, shift = 0; i < stop && shift < 32; i++, shift += 7) value |= ((bytes[i] as number) & 0x7f) << shift;
  return value >>> 0;
}

function bigVarintSize(value: bigint): number {
  let size = 1;
  while (value >= 0x80n) {
    value >>= 7n;
    size++;
  }
  return size;
}

function writeBigVarint(value: bigint, out: Uint8Array, pos: number): number {
  while (value >= 0x80n) {
    out[pos++] = Number(value & 0x7fn) | 0x80;
    value >>= 7n;
  }
  out[pos++] = Number(value);
  return pos;
}
