import type { ServerTlsOptions } from "../conn/socket-options.js";

/** Options of `Server.listen`. */
export interface ListenOptions {
  /** Interface to bind. Default "127.0.0.1". */
  host?: string;
  /** Port to bind; 0 picks a free one. Default 0. */
  port?: number;
  /** Listen on a unix domain socket at this path instead (host and port are then ignored). */
  path?: string;
  /** Serve TLS with these node:tls options (key and cert at least). */
  tls?: ServerTlsOptions;
  /** Listen backlog. Default 511. */
  backlog?: number;
}

/** Where a server listens. */
export interface ServerAddress {
  /** The bound host ("unix" on a unix socket). */
  readonly host: string;
  /** The bound port (0 on a unix socket). */
  readonly port: number;
  /** The socket's path, on a unix socket. */
  readonly path?: string;
}
