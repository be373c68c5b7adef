import type { SecureContextOptions, TlsOptions, ConnectionOptions as TlsConnectionOptions } from "node:tls";

/**
 * TLS settings of a client: `true` for the system's trust store and the
 * host as server name, or node:tls connect options (ca, cert, key,
 * servername, rejectUnauthorized, minVersion …).
 */
export type ClientTlsOptions = true | TlsConnectionOptions;

/** TLS settings of a server listener: node:tls server options (key, cert, ca, requestCert …). */
export type ServerTlsOptions = TlsOptions & SecureContextOptions;

/** "host:port" of an address, with IPv6 hosts in brackets. */
export function formatAddress(host: string | undefined, port: number | undefined): string {
  const h = host ?? "?";
  return `${h.includes(":") ? `[${h}]` : h}:${port ?? "?"}`;
}
