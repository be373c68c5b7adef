/**
 * The metadata limits of protobuf envelopes, checked before an envelope is
 * decoded: one pass over its top-level fields counts the entries of the
 * metadata map field (each entry is one occurrence of the field on the wire)
 * and their bytes, skipping everything else without building it. A frame
 * past a limit is never handed to `fromBinary`, so it costs one skim of its
 * bytes, not a Map of half a million entries.
 */
import { metadataCounter, type MetadataLimits, type MetadataOverLimit } from "../metadata.js";
import { FALLBACK, ProtoReader } from "./index.js";

/** protobuf-es's recursion limit, for groups skipped on the way. */
const GROUP_DEPTH = 100;
const WIRE_LEN = 2;
const EMPTY = new Uint8Array(0);
const reader = new ProtoReader(EMPTY, 0, 0);

/**
 * Checks the metadata of an envelope's bytes against `limits`: the limit it
 * goes past, or undefined when it stays within them (or the bytes are not
 * well-formed, and decoding refuses them).
 */
export function scanMetadata(bytes: Uint8Array, metadataField: number, limits: MetadataLimits): MetadataOverLimit | undefined {
  const r = reader;
  r.reset(bytes, 0, bytes.length);
  const count = metadataCounter(limits);
  try {
    while (r.pos < r.end) {
      const t = r.tag();
      const no = t >>> 3;
      const wireType = t & 7;
      if (no === metadataField && wireType === WIRE_LEN) {
        const len = r.length();
        r.pos += len;
        const over = count(len);
        if (over !== undefined) return over;
      } else {
        r.skip(wireType, no, GROUP_DEPTH);
      }
    }
  } catch (e) {
    if (e !== FALLBACK) throw e;
  } finally {
    r.reset(EMPTY, 0, 0);
  }
  return undefined;
}

/**
 * The envelope's bytes without its metadata field (a copy): what is decoded
 * of a frame whose metadata went past a limit, so its id, code and case are
 * known and nothing of its metadata is built. Call it only on bytes that
 * {@link scanMetadata} walked to a limit (well-formed up to there; past it,
 * what is copied is checked by the decoder).
 */
export function withoutField(bytes: Uint8Array, field: number): Uint8Array {
  const r = reader;
  r.reset(bytes, 0, bytes.length);
  const out = new Uint8Array(bytes.length);
  let size = 0;
  // Runs of other fields are copied whole.
  let run = 0;
  try {
    while (r.pos < r.end) {
      const start = r.pos;
      const t = r.tag();
      const no = t >>> 3;
      const wireType = t & 7;
      if (no === field && wireType === WIRE_LEN) {
        const len = r.length();
        r.pos += len;
        if (start > run) {
          out.set(bytes.subarray(run, start), size);
          size += start - run;
        }
        run = r.pos;
      } else {
        r.skip(wireType, no, GROUP_DEPTH);
      }
    }
  } catch (e) {
    // Not well-formed from here on: the rest is kept as it is, for the decoder to refuse.
    if (e !== FALLBACK) throw e;
  } finally {
    r.reset(EMPTY, 0, 0);
  }
  out.set(bytes.subarray(run), size);
  size += bytes.length - run;
  return out.subarray(0, size);
}
