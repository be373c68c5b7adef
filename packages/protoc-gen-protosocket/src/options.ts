/** What to do with a service that has no `(protosocket.v1.envelope)` option. */
export type UnboundServices = "warn" | "error" | "ignore";

/** The plugin's own options (the standard protoplugin ones are parsed before these). */
export interface Options {
  /**
   * `unbound_services=warn` (default): skip services without an envelope
   * binding and name each on stderr. `error`: fail the run instead.
   * `ignore`: skip them silently (for trees mixing protosocket and other services).
   */
  readonly unboundServices: UnboundServices;
}

const KNOWN = ["unbound_services=warn|error|ignore"];

/**
 * Parses the options protoplugin does not know. Unknown keys and bad values
 * throw; protoplugin reports them as `invalid option "...": <reason>`.
 */
export function parseOptions(raw: readonly { key: string; value: string }[]): Options {
  let unboundServices: UnboundServices = "warn";
  for (const { key, value } of raw) {
    switch (key) {
      case "unbound_services":
        if (value !== "warn" && value !== "error" && value !== "ignore") {
          throw new Error(`unbound_services must be warn, error or ignore, not "${value}"`);
        }
        unboundServices = value;
        break;
      default:
        throw new Error(
          `unknown option "${key}"; protoc-gen-protosocket accepts ${KNOWN.join(", ")} and the standard protoplugin options (target, import_extension, js_import_style, rewrite_imports, ts_nocheck, keep_empty_files, elide_plugin_version)`,
        );
    }
  }
  return { unboundServices };
}
