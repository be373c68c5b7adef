/**
 * Call metadata: string keys and values that travel in the envelope's
 * metadata field when the service binds one (request metadata to the server,
 * trailers back with the final frame). Without such a field nothing travels.
 */
import { Code, RpcError } from "./errors.js";
import { checkNumber, invalidOption } from "./util/validate.js";

/** Metadata as a caller may give it: a Map, an object, or [key, value] pairs. */
export type MetadataInit = ReadonlyMap<string, string> | Readonly<Record<string, string>> | Iterable<readonly [string, string]>;

/** An empty, frozen metadata map (calls without metadata share it). */
export const EMPTY_METADATA: ReadonlyMap<string, string> = new Map();

/**
 * Metadata as a Map, checking that every key and value is a string.
 *
 * @throws RpcError `invalid_argument` naming `name` and the bad entry.
 */
export function toMetadata(name: string, init: MetadataInit | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (init === undefined) return out;
  if (init === null || typeof init !== "object") throw invalidOption(name, init, "a Map, an object or [key, value] pairs of strings");
  const entries: Iterable<readonly [unknown, unknown]> =
    init instanceof Map || Symbol.iterator in init ? (init as Iterable<readonly [unknown, unknown]>) : Object.entries(init);
  for (const entry of entries) {
    const [key, value] = entry;
    if (typeof key !== "string" || typeof value !== "string") {
      throw invalidOption(name, `${String(key)}: ${String(value)}`, "string keys and string values");
    }
    out.set(key, value);
  }
  return out;
}

/**
 * How much metadata one received frame may carry. Envelope codecs count
 * entries and bytes while they read the metadata field and stop, before
 * building anything, at the first entry past either limit.
 */
export interface MetadataLimits {
  /** Entries (keys) one frame's metadata may have. */
  readonly maxMetadataEntries: number;
  /** Bytes one frame's metadata entries may take on the wire (keys, values and their few bytes of framing). */
  readonly maxMetadataBytes: number;
}

/** Default {@link MetadataLimits.maxMetadataEntries}: 128. */
export const DEFAULT_MAX_METADATA_ENTRIES = 128;
/** Default {@link MetadataLimits.maxMetadataBytes}: 16 KiB, as Node's HTTP server allows for headers. */
export const DEFAULT_MAX_METADATA_BYTES = 16 * 1024;
/** The default limits. */
export const DEFAULT_METADATA_LIMITS: MetadataLimits = {
  maxMetadataEntries: DEFAULT_MAX_METADATA_ENTRIES,
  maxMetadataBytes: DEFAULT_MAX_METADATA_BYTES,
};

/** Which limit a frame's metadata went past. */
export interface MetadataOverLimit {
  /** The option that sets it. */
  readonly option: "maxMetadataEntries" | "maxMetadataBytes";
  /** Its value. */
  readonly limit: number;
}

/**
 * Counts a frame's metadata entries as a codec reads them: `add` returns
 * what went past a limit, or undefined while both hold.
 */
export function metadataCounter(limits: MetadataLimits): (entryBytes: number) => MetadataOverLimit | undefined {
  let entries = 0;
  let bytes = 0;
  return (entryBytes) => {
    if (++entries > limits.maxMetadataEntries) return { option: "maxMetadataEntries", limit: limits.maxMetadataEntries };
    bytes += entryBytes;
    if (bytes > limits.maxMetadataBytes) return { option: "maxMetadataBytes", limit: limits.maxMetadataBytes };
    return undefined;
  };
}

function overLimitText(over: MetadataOverLimit): string {
  return over.option === "maxMetadataEntries" ? `${over.limit} entries` : `${over.limit} bytes`;
}

/** The server's answer to a request whose metadata went past its limits: `resource_exhausted`, not run. */
export function requestMetadataError(over: MetadataOverLimit): RpcError {
  return new RpcError(
    Code.ResourceExhausted,
    `the request's metadata exceeds the server's limit of ${overLimitText(over)} per frame (${over.option}); the call was not run`,
  );
}

/** The client's error for a response whose trailers went past its limits: `resource_exhausted`. */
export function trailerMetadataError(over: MetadataOverLimit): RpcError {
  return new RpcError(
    Code.ResourceExhausted,
    `the response's trailers exceed this client's limit of ${overLimitText(over)} per frame (${over.option}); the call's outcome was dropped`,
  );
}

/**
 * The metadata limits among `options`, checked.
 *
 * @throws RpcError `invalid_argument` naming the option that is not valid.
 */
export function checkMetadataLimits(options: { maxMetadataEntries?: number; maxMetadataBytes?: number }): MetadataLimits {
  return {
    maxMetadataEntries: checkNumber("maxMetadataEntries", options.maxMetadataEntries, DEFAULT_MAX_METADATA_ENTRIES, { max: 2 ** 30 }),
    maxMetadataBytes: checkNumber("maxMetadataBytes", options.maxMetadataBytes, DEFAULT_MAX_METADATA_BYTES, { max: 2 ** 32 }),
  };
}
