/**
 * connect-es's headers and trailers (the Fetch API's `Headers`) and
 * protosocket's metadata (a `Map` of strings that travels in the envelope's
 * metadata field) into each other.
 */

/** What `new Headers()` takes: connect-es's `HeadersInit`. */
export type HeadersInit = ConstructorParameters<typeof Headers>[0];

/**
 * Headers as metadata: lower-case names (as `Headers` keeps them), values
 * of a name that was appended several times joined with ", ".
 */
export function headersToMetadata(headers: Headers): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, value] of headers) out.set(name, value);
  return out;
}

/** Headers as given to a connect-es transport (undefined for none) as metadata. */
export function headersInitToMetadata(init: HeadersInit | undefined): Map<string, string> {
  return init === undefined ? new Map() : headersToMetadata(new Headers(init));
}

/**
 * Metadata as Headers. An entry that `Headers` refuses (a name that is not
 * an HTTP token, a value with a line break or a character above U+00FF,
 * which protosocket metadata may hold) is left out.
 */
export function metadataToHeaders(metadata: ReadonlyMap<string, string>, into: Headers = new Headers()): Headers {
  for (const [name, value] of metadata) {
    try {
      into.set(name, value);
    } catch {
      // Not expressible as an HTTP header: left out (see the README's "What does not carry over").
    }
  }
  return into;
}

/** Appends every entry of `from` to `into`. */
export function copyHeaders(from: Headers, into: Headers): void {
  if (from === into) return;
  for (const [name, value] of from) into.append(name, value);
}
