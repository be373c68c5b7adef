import type { CallOptions } from "@protosocket/runtime";
import { usageError } from "../exit-codes.js";

/**
 * Parses `-H key: value` (or `key=value`) flags into metadata entries.
 *
 * @throws CliError (usage) for an entry without a key.
 */
export function parseMetadata(entries: readonly string[]): [string, string][] {
  return entries.map((entry) => {
    const m = /^\s*([^:=\s]+)\s*[:=]\s?(.*)$/.exec(entry);
    if (m === null) throw usageError(`-H "${entry}": write key: value (or key=value)`);
    return [(m[1] as string).toLowerCase(), m[2] as string];
  });
}

/**
 * Puts metadata into a call's options. This is the one place the CLI hands
 * metadata to the runtime; today the envelope has no field to carry it (a
 * `metadata` field role is planned), so any `-H` is refused rather than
 * silently dropped.
 *
 * @throws CliError (usage) when metadata is given.
 */
export function applyMetadata(metadata: readonly [string, string][], _options: CallOptions): void {
  if (metadata.length === 0) return;
  throw usageError(
    `-H ${metadata[0]?.[0]}: metadata cannot be sent yet: protosocket envelopes have no metadata field today (a metadata field role is planned); nothing was sent`,
  );
}
