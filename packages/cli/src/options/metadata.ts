import type { CallOptions, ServiceDefinition } from "@protosocket/runtime";
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
 * Puts metadata into a call's options: it travels in the envelope's metadata
 * field. A service whose envelope binds none cannot carry it: refused rather
 * than silently dropped.
 *
 * @throws CliError (usage) when metadata is given for an envelope without a metadata field.
 */
export function applyMetadata(metadata: readonly [string, string][], options: CallOptions, def: ServiceDefinition): void {
  if (metadata.length === 0) return;
  if (def.binding.request.metadata === undefined) {
    throw usageError(
      `-H ${metadata[0]?.[0]}: ${def.requestEnvelope.typeName} has no metadata field, so the call cannot carry metadata (bind a map<string, string> field named metadata, or with metadata_field or FIELD_ROLE_METADATA); nothing was sent`,
    );
  }
  options.metadata = metadata;
}
