/** The protobuf side of the envelope seam: envelope codecs whose cases are registered by path. */
import type { DescMessage } from "@bufbuild/protobuf";
import type { CasePath } from "../binding/binding.js";
import type { EnvelopeWire, WireTarget } from "../encoding/envelope-wire.js";

/** A case path of a protobuf envelope. */
export interface ProtoWireTarget extends WireTarget {
  /** The schema of the message at its end. */
  readonly schema: DescMessage;
}

/** A protobuf {@link EnvelopeWire}, whose cases are registered by path. */
export interface ProtoEnvelopeWire extends EnvelopeWire {
  /** The envelope schema. */
  readonly schema: DescMessage;
  /** True when the specialised codec is in use (see fast-envelope-wire.ts). */
  readonly fast: boolean;
  /** Registers (or returns the registered) target for a case path. */
  target(path: CasePath): ProtoWireTarget;
}
