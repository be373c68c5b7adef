/**
 * The envelope codecs of service definitions: built once per definition
 * (cached), never per client or per connection, so creating a client or
 * opening a connection builds nothing. Each definition's encoding builds
 * them.
 */
import { encodingOf, type EnvelopeCodecs } from "./encoding.js";
import type { AnyServiceDefinition } from "./service.js";

const cache = new WeakMap<AnyServiceDefinition, EnvelopeCodecs>();

/** The codecs of one service definition, built on first use and cached. */
export function codecsOf(def: AnyServiceDefinition): EnvelopeCodecs {
  let codecs = cache.get(def);
  if (codecs === undefined) {
    codecs = encodingOf(def).createCodecs([def]);
    cache.set(def, codecs);
  }
  return codecs;
}

/**
 * Builds the codecs of services that share one envelope pair (a server
 * serving them all on one listener). Callers check with
 * {@link envelopeBindingClash} that the services bind the pair alike (and
 * so are of one encoding).
 */
export function createEnvelopeCodecs(defs: readonly AnyServiceDefinition[]): EnvelopeCodecs {
  const first = defs[0];
  if (first === undefined) throw new Error("no service definition");
  return defs.length === 1 ? codecsOf(first) : encodingOf(first).createCodecs(defs);
}

/**
 * Why two services cannot share one connection or listener, or undefined
 * when they can: they must be of one encoding, and that encoding must find
 * that they bind one envelope pair alike.
 */
export function envelopeBindingClash(a: AnyServiceDefinition, b: AnyServiceDefinition): string | undefined {
  if (a.encoding !== b.encoding) {
    return `${b.service.typeName} is encoded with ${b.encoding.name}, but ${a.service.typeName} with ${a.encoding.name}; one connection (and one listener) carries one encoding and one envelope pair`;
  }
  return encodingOf(a).clash(a, b);
}
