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

/**
 * Reads the varint field `field` from the start of an envelope's bytes that
 * may be cut short (the head of a frame too large to receive), skipping the
 * fields before it. Returns undefined when the field is not among the bytes
 * given, or they are not valid protobuf.
 */
export function peekVarintField(bytes: Uint8Array, field: number): MessageId | undefined {
  let pos = 0;
  const end = bytes.length;
  const varint = (): bigint | undefined => {
    let value = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (pos >= end) return undefined;
      const b = bytes[pos++] as number;
      value |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return value & 0xffff_ffff_ffff_ffffn;
    }
    return undefined;
  };
  while (pos < end) {
    const tag = varint();
    if (tag === undefined) return undefined;
    const number = Number(tag >> 3n);
    const wireType = Number(tag & 7n);
    if (number === field) {
      if (wireType !== 0) return undefined;
      const v = varint();
      return v === undefined ? undefined : toMessageId(v);
    }
    if (wireType === 0) {
      if (varint() === undefined) return undefined;
    } else if (wireType === 1) {
      pos += 8;
    } else if (wireType === 2) {
      const len = varint();
      if (len === undefined) return undefined;
      pos += Number(len);
    } else if (wireType === 5) {
      pos += 4;
    } else {
      return undefined;
    }
  }
  return undefined;
}
