/**
 * Call metadata: string keys and values that travel in the envelope's
 * metadata field when the service binds one (request metadata to the server,
 * trailers back with the final frame). Without such a field nothing travels.
 */
import { invalidOption } from "./util/validate.js";

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
