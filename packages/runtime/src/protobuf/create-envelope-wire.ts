import type { DescMessage } from "@bufbuild/protobuf";
import type { CasePath, EnvelopeFields } from "../binding/binding.js";
import type { ProtoEnvelopeWire } from "./proto-envelope-wire.js";
import { createFastEnvelopeWire, fastPathPossible } from "./fast-envelope-wire.js";
import { createGenericEnvelopeWire } from "./generic-envelope-wire.js";

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
export function createEnvelopeWire(
  schema: DescMessage,
  fields: EnvelopeFields,
  paths: readonly CasePath[],
  options: EnvelopeWireOptions = {},
): ProtoEnvelopeWire {
  if (options.generic !== true && fastPathPossible(schema, fields, paths)) {
    return createFastEnvelopeWire(schema, fields, paths);
  }
  return createGenericEnvelopeWire(schema, fields, paths);
}
