import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { compileDecoder, type DecodeFn } from "./compile-decoder.js";
import { compileEncoder, type Encoders } from "./compile-encoder.js";
import { ProtoReader } from "./proto-reader.js";
import { ProtoWriter } from "./proto-writer.js";

/**
 * The binary codec of one message type: `toBinary` and `fromBinary` with the
 * same results — the same bytes, the same decoded objects, the same errors —
 * from code compiled for the type's descriptor. Values the compiled encoder
 * does not expect, and input the compiled decoder does not accept, go to
 * protobuf-es, which then decides (docs/decisions.md, "Compiled codecs").
 */
export interface MessageCodec<Desc extends DescMessage = DescMessage> {
  /** The message type. */
  readonly schema: Desc;
  /** False when the platform refused to compile (then every call is protobuf-es's). */
  readonly compiled: boolean;
  /**
   * Writes at `writer.pos` the bytes of `toBinary(schema, create(schema, value))`
   * — for a message, `toBinary(schema, message)` — and throws what that
   * throws. An init object is written as it is, without building a message.
   */
  write(value: MessageInitShape<Desc>, writer: ProtoWriter): void;
  /** Exactly `toBinary(schema, create(schema, value))`, as a new array. */
  encode(value: MessageInitShape<Desc>): Uint8Array;
  /** Exactly `fromBinary(schema, bytes.subarray(start, end))` (bytes fields are views into `bytes`). */
  decode(bytes: Uint8Array, start?: number, end?: number): MessageShape<Desc>;
}

/** How often the compiled code handed a value or an input to protobuf-es (tests check it is not the rule). */
export const fallbacks = { encode: 0, decode: 0 };

const scratch = new ProtoWriter(4096);
/** A scratch buffer grown past this by one large message is dropped afterwards. */
const SCRATCH_KEEP_BYTES = 1024 * 1024;
const reader = new ProtoReader(new Uint8Array(0), 0, 0);

class CompiledCodec<Desc extends DescMessage> implements MessageCodec<Desc> {
  readonly compiled: boolean;
  private readonly encoders: Encoders | undefined;
  private readonly decodeFn: DecodeFn | undefined;

  constructor(readonly schema: Desc) {
    let encoders: Encoders | undefined;
    let decodeFn: DecodeFn | undefined;
    try {
      encoders = compileEncoder(schema);
      decodeFn = compileDecoder(schema);
    } catch {
      // No code generation here (a content security policy): protobuf-es does it all.
      encoders = undefined;
      decodeFn = undefined;
    }
    this.encoders = encoders;
    this.decodeFn = decodeFn;
    this.compiled = encoders !== undefined;
  }

  write(value: MessageInitShape<Desc>, writer: ProtoWriter): void {
    const start = writer.pos;
    const encoders = this.encoders;
    if (encoders !== undefined && value !== null && typeof value === "object" && !Array.isArray(value)) {
      try {
        // create() returns a message of the type as it is and builds one from anything else.
        if ((value as { $typeName?: unknown }).$typeName === this.schema.typeName) encoders.message(value, writer);
        else encoders.init(value, writer);
        return;
      } catch {
        writer.rewind(start);
        fallbacks.encode++;
      }
    }
    writer.raw(toBinary(this.schema, create(this.schema, value)));
  }

  encode(value: MessageInitShape<Desc>): Uint8Array {
    scratch.reset(0);
    this.write(value, scratch);
    const out = scratch.copy(0);
    if (scratch.buf.length > SCRATCH_KEEP_BYTES) scratch.buf = new Uint8Array(4096);
    scratch.reset(0);
    return out;
  }

  decode(bytes: Uint8Array, start = 0, end = bytes.length): MessageShape<Desc> {
    if (this.decodeFn !== undefined) {
      reader.reset(bytes, start, end);
      try {
        return this.decodeFn(reader) as MessageShape<Desc>;
      } catch {
        // Not well-formed in the compiled decoder's sense: fromBinary decides.
        fallbacks.decode++;
      }
    }
    return fromBinary(this.schema, start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end));
  }
}

const codecs = new WeakMap<DescMessage, MessageCodec>();

/** The codec of a message type, compiled on first use and kept for the descriptor's lifetime. */
export function messageCodec<Desc extends DescMessage>(schema: Desc): MessageCodec<Desc> {
  let codec = codecs.get(schema);
  if (codec === undefined) {
    codec = new CompiledCodec(schema);
    codecs.set(schema, codec);
  }
  return codec as MessageCodec<Desc>;
}
