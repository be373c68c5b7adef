/**
 * Rendezvous (highest random weight) hashing: a key goes to the server
 * whose hash with the key scores highest. When a server leaves, only its
 * keys move (each to its own second choice); when one joins, it takes about
 * 1/n of the keys from the others. Weighted: score = -weight / ln(u), u the
 * key and server's hash in (0, 1).
 */

/** Two 32-bit lanes of a string's hash. */
export type Hash64 = readonly [number, number];

/** Murmur3's 32-bit finalizer: every input bit reaches every output bit. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hashes a string (its UTF-16 code units) into two independent 32-bit lanes. */
export function hashString(text: string): Hash64 {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
  }
  return [fmix32(a ^ text.length), fmix32(b ^ Math.imul(text.length, 0x27d4eb2d))];
}

/** The key and server's hash as a number in (0, 1), from 53 mixed bits. */
export function unitHash(key: Hash64, server: Hash64): number {
  const x = fmix32(key[0] ^ server[0]);
  const y = fmix32(key[1] ^ Math.imul(server[1], 0x9e3779b1) ^ x);
  return (x * 2097152 + (y >>> 11) + 0.5) / 9007199254740992;
}

/** The rendezvous score of a server for a key; the highest wins. */
export function rendezvousScore(key: Hash64, server: Hash64, weight: number): number {
  return -weight / Math.log(unitHash(key, server));
}
