import { fromBinary, toBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";

/** Encodes and decodes one message type to and from its wire bytes. */
export interface Codec<T> {
  /** The bytes of one message (no length prefix). */
  encode(message: T): Uint8Array;
  /** One message from its bytes; throws on bytes that are not a valid message. */
  decode(bytes: Uint8Array): T;
}

/**
 * The protobuf binary codec of a protobuf-es message schema: `toBinary` and
 * `fromBinary`. Unknown fields are kept, so an envelope from a newer peer
 * round-trips.
 */
export function createProtobufCodec<Desc extends DescMessage>(schema: Desc): Codec<MessageShape<Desc>> {
  return {
    encode(message) {
      return toBinary(schema, message);
    },
    decode(bytes) {
      return fromBinary(schema, bytes);
    },
  };
}
