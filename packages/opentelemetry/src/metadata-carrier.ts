import type { TextMapGetter, TextMapSetter } from "@opentelemetry/api";

/**
 * Metadata as a call carries it when its envelope binds a metadata field: a
 * string map. Calls whose envelope has none carry no trace context.
 */
export interface MetadataLike {
  get(key: string): string | undefined;
  set(key: string, value: string): unknown;
  keys(): Iterable<string>;
}

/** Reads the metadata of a request, if its envelope carries any. */
export function metadataOf(request: object): MetadataLike | undefined {
  const m = (request as { metadata?: unknown }).metadata;
  if (
    m !== null &&
    typeof m === "object" &&
    typeof (m as MetadataLike).get === "function" &&
    typeof (m as MetadataLike).set === "function"
  ) {
    return m as MetadataLike;
  }
  return undefined;
}

/** Writes propagation headers into metadata. */
export const metadataSetter: TextMapSetter<MetadataLike> = {
  set(carrier, key, value) {
    carrier.set(key, value);
  },
};

/** Reads propagation headers from metadata. */
export const metadataGetter: TextMapGetter<MetadataLike> = {
  get(carrier, key) {
    return carrier.get(key);
  },
  keys(carrier) {
    return [...carrier.keys()];
  },
};
