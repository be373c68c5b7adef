import { create, type DescMessage, type Message, type MessageInitShape } from "@bufbuild/protobuf";
import type { CasePath, EnvelopeFields } from "../binding/binding.js";
import { createCaseAccessor, type CaseAccessor } from "./case-accessor.js";
import type { ControlCode } from "./control-code.js";
import { createEnvelopeCodec, type EnvelopeMessage } from "./envelope-codec.js";
import { createFastEnvelopeWire, fastPathPossible } from "./fast-envelope-wire.js";

/**
 * A message id as the runtime handles it: a number while it fits in 53 bits
 * (every id our client assigns), a bigint above. One id always has one form,
 * so either can key a Map.
 */
export type MessageId = number | bigint;

/** Normalises a uint64 id to its {@link MessageId} form. */
export function toMessageId(id: bigint): MessageId {
  return id <= 9007199254740991n ? Number(id) : id;
}

/** A case path of an envelope, prepared for reading and writing. */
export interface WireTarget {
  /** The path. */
  readonly path: CasePath;
  /** The schema of the message at its end. */
  readonly schema: DescMessage;
}

/** Where {@link EnvelopeWire.write} puts a frame: its bytes are `head` (if any) then `body`. */
export interface FrameSink {
  /** Queues one frame. */
  send(body: Uint8Array, head?: Uint8Array): void;
}

/** One received envelope: its id and code, and access to the message it carries. */
export interface InboundEnvelope {
  /** The message id. */
  readonly id: MessageId;
  /** The control code (unknown codes read as Cancel). */
  readonly code: ControlCode;
  /** The target (among those registered) whose case this envelope carries, if any. */
  readonly carried: WireTarget | undefined;
  /** The message at `target`, decoded; undefined when the envelope carries another case. Throws on invalid bytes. */
  read(target: WireTarget): Message | undefined;
}

/**
 * Encodes and decodes one envelope type on the wire. Built once per
 * envelope from its binding; the cases it reads and writes are registered
 * with {@link target} first.
 */
export interface EnvelopeWire {
  /** The envelope schema. */
  readonly schema: DescMessage;
  /** True when the specialised codec is in use (see fast-envelope-wire.ts). */
  readonly fast: boolean;
  /** Registers (or returns the registered) target for a case path. */
  target(path: CasePath): WireTarget;
  /**
   * The bytes of an envelope with this id and code, carrying `body` at
   * `target` when given: a message of the target's type or its init object
   * (what `create()` takes; the case carries `create(schema, body)`).
   */
  encode(id: MessageId, code: ControlCode, target?: WireTarget, body?: MessageInitShape<DescMessage>): Uint8Array;
  /** Like {@link encode}, but hands the frame to `sink`, where it can avoid copying the case message's bytes. */
  write(sink: FrameSink, id: MessageId, code: ControlCode, target?: WireTarget, body?: MessageInitShape<DescMessage>): void;
  /** Parses an envelope; throws on bytes that are not a valid envelope. */
  decode(bytes: Uint8Array): InboundEnvelope;
}

/** Options of {@link createEnvelopeWire}. */
export interface EnvelopeWireOptions {
  /** Use the reflection-based codec even where the specialised one applies (tests compare the two). */
  generic?: boolean;
}

/**
 * Creates the {@link EnvelopeWire} of an envelope: a specialised codec when
 * every registered path is one field of the envelope and id and code have
 * implicit presence (the shape of every envelope we know), else the generic
 * one built on `toBinary`/`fromBinary` of the whole envelope. Both produce
 * the same bytes.
 */
export function createEnvelopeWire(schema: DescMessage, fields: EnvelopeFields, paths: readonly CasePath[], options: EnvelopeWireOptions = {}): EnvelopeWire {
  if (options.generic !== true && fastPathPossible(schema, fields, paths)) {
    return createFastEnvelopeWire(schema, fields, paths);
  }
  return createGenericEnvelopeWire(schema, fields, paths);
}

interface GenericTarget extends WireTarget {
  readonly accessor: CaseAccessor;
}

/** The reflection-based {@link EnvelopeWire}: whole envelopes through toBinary/fromBinary. */
export function createGenericEnvelopeWire(schema: DescMessage, fields: EnvelopeFields, paths: readonly CasePath[]): EnvelopeWire {
  const codec = createEnvelopeCodec(schema, fields);
  const targets = new Map<string, GenericTarget>();
  const target = (path: CasePath): GenericTarget => {
    let t = targets.get(path.path);
    if (t === undefined) {
      const accessor = createCaseAccessor(schema, path);
      t = { path, schema: accessor.schema, accessor };
      targets.set(path.path, t);
    }
    return t;
  };
  for (const p of paths) target(p);
  const encode = (id: MessageId, code: ControlCode, t?: WireTarget, body?: MessageInitShape<DescMessage>): Uint8Array => {
    const env = codec.create(typeof id === "bigint" ? id : BigInt(id), code);
    if (t !== undefined && body !== undefined) (t as GenericTarget).accessor.set(env, create(t.schema, body));
    return codec.encode(env);
  };
  return {
    schema,
    fast: false,
    target,
    encode,
    write(sink, id, code, t, body) {
      sink.send(encode(id, code, t, body));
    },
    decode(bytes) {
      const env: EnvelopeMessage = codec.decode(bytes);
      let carried: GenericTarget | undefined;
      for (const t of targets.values()) {
        if (t.accessor.get(env) !== undefined) {
          carried = t;
          break;
        }
      }
      return {
        id: toMessageId(codec.readId(env)),
        code: codec.readCode(env),
        carried,
        read: (t) => (t as GenericTarget).accessor.get(env),
      };
    },
  };
}
