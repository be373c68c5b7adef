/** What to do with a service that has no `(protosocket.v1.envelope)` option. */
export type UnboundServices = "warn" | "error" | "ignore";

/** The envelope of services with no `(protosocket.v1.envelope)` option: none (they are unbound), or the standard one. */
export type DefaultEnvelope = "none" | "standard";

/** The plugin's own options (the standard protoplugin ones are parsed before these). */
export interface Options {
  /**
   * `unbound_services=warn` (default): skip services without an envelope
   * binding and name each on stderr. `error`: fail the run instead.
   * `ignore`: skip them silently (for trees mixing protosocket and other services).
   * Does not apply with `default_envelope=standard` (no service is unbound).
   */
  readonly unboundServices: UnboundServices;
  /**
   * `default_envelope=standard`: generate every service with no
   * `(protosocket.v1.envelope)` option for the standard envelope
   * (protosocket.v1.Request / Response, routed by method name), so gRPC-style
   * protos are served and called as they are. `none` (default): such
   * services are unbound (see `unboundServices`).
   */
  readonly defaultEnvelope: DefaultEnvelope;
}

const KNOWN = ["unbound_services=warn|error|ignore", "default_envelope=none|standard"];

/**
 * Parses the options protoplugin does not know. Unknown keys and bad values
 * throw; protoplugin reports them as `invalid option "...": <reason>`.
 */
export function parseOptions(raw: readonly { key: string; value: string }[]): Options {
  let unboundServices: UnboundServices = "warn";
  let defaultEnvelope: DefaultEnvelope = "none";
  for (const { key, value } of raw) {
    switch (key) {
      case "unbound_services":
        if (value !== "warn" && value !== "error" && value !== "ignore") {
          throw new Error(`unbound_services must be warn, error or ignore, not "${value}"`);
        }
        unboundServices = value;
        break;
      case "default_envelope":
        if (value !== "none" && value !== "standard") {
          throw new Error(`default_envelope must be none or standard, not "${value}"`);
        }
        defaultEnvelope = value;
        break;
      default:
        throw new Error(
          `unknown option "${key}"; protoc-gen-protosocket accepts ${KNOWN.join(", ")} and the standard protoplugin options (target, import_extension, js_import_style, rewrite_imports, ts_nocheck, keep_empty_files, elide_plugin_version)`,
        );
    }
  }
  return { unboundServices, defaultEnvelope };
}
