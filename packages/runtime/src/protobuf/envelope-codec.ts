import { create, fromBinary, toBinary, type DescMessage, type Message } from "@bufbuild/protobuf";
import type { EnvelopeFields } from "../binding/binding.js";
import { toControlCode, type ControlCode } from "../encoding/control-code.js";

/** A plain view of an envelope message: protobuf-es messages are plain objects. */
export type EnvelopeMessage = Message & Record<string, unknown>;

/**
 * Encodes, decodes and builds the messages of one envelope type, and reads
 * their id and control code, wherever the binding put those fields.
 */
export interface EnvelopeCodec {
  /** The envelope schema. */
  readonly schema: DescMessage;
  /** A new envelope with this id and code and no body. */
  create(id: bigint, code: ControlCode): EnvelopeMessage;
  /** The message id of an envelope. */
  readId(envelope: EnvelopeMessage): bigint;
  /** The control code of an envelope (unknown codes read as Cancel). */
  readCode(envelope: EnvelopeMessage): ControlCode;
  /** The wire bytes of an envelope (no length prefix). */
  encode(envelope: EnvelopeMessage): Uint8Array;
  /** An envelope from its wire bytes; throws on invalid protobuf. */
  decode(bytes: Uint8Array): EnvelopeMessage;
}

/** Creates the {@link EnvelopeCodec} of an envelope schema and its id/code fields. */
export function createEnvelopeCodec(schema: DescMessage, fields: EnvelopeFields): EnvelopeCodec {
  if (schema.typeName !== fields.typeName) {
    throw new Error(`envelope binding is for ${fields.typeName}, not ${schema.typeName}`);
  }
  const template = create(schema) as EnvelopeMessage;
  const idKey = fields.id.localName;
  const codeKey = fields.code.localName;
  return {
    schema,
    create(id, code) {
      const env = { ...template };
      env[idKey] = id;
      env[codeKey] = code;
      return env;
    },
    readId: (env) => env[idKey] as bigint,
    readCode: (env) => toControlCode(env[codeKey] as number),
    encode: (env) => toBinary(schema, env),
    decode: (bytes) => fromBinary(schema, bytes) as EnvelopeMessage,
  };
}
