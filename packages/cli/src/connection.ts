import { Code, connect, RpcError, type ConnectionTransport, type ConnectOptions } from "@protosocket/runtime";
import { CliError } from "./exit-codes.js";

/** Errno codes that mean "nobody there", as opposed to a TLS problem. */
const NETWORK_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "ETIMEDOUT", "EADDRNOTAVAIL"]);

function errnoOf(e: RpcError): string | undefined {
  const cause = e.cause as NodeJS.ErrnoException | undefined;
  return typeof cause?.code === "string" ? cause.code : undefined;
}

/** What to try when a TLS handshake fails, from the error's code. */
function tlsHint(code: string | undefined, message: string): string {
  if (code === undefined) return "";
  if (/SELF_SIGNED|UNABLE_TO_GET_ISSUER|UNABLE_TO_VERIFY|CERT_UNTRUSTED|ISSUER_CERT/.test(code)) {
    return "; trust the server's CA with --cacert ca.pem (or skip verification with --insecure)";
  }
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID")
    return "; the certificate does not name this host: connect by a name it has, or set --servername";
  if (code === "CERT_HAS_EXPIRED" || code === "CERT_NOT_YET_VALID") return "; the server's certificate is outside its validity dates";
  if (/WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|UNKNOWN_PROTOCOL/.test(code) || /wrong version number/i.test(message)) {
    return "; the server does not speak TLS on this port: leave out --tls";
  }
  return "";
}

/** What to try when no connection could be made at all, from the error's code. */
function networkHint(code: string | undefined, host: string, port: number, tls: boolean): string {
  const other = tls ? "leave out --tls if it serves plain TCP" : "add --tls if it serves TLS";
  switch (code) {
    case "ECONNREFUSED":
      return `; nothing accepts connections there: is the server running, listening on this host and port (in a container: its published port)?`;
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `; the host name "${host}" does not resolve: check its spelling, or give an IP address`;
    case "EHOSTUNREACH":
    case "ENETUNREACH":
    case "EADDRNOTAVAIL":
      return `; ${host} cannot be reached from here: check the address, and the network in between (VPN, firewall, container network)`;
    case "ETIMEDOUT":
      return `; ${host} did not answer: check the host and port, and whether a firewall drops the connection`;
    case "ECONNRESET":
    case "EPIPE":
      return `; the server closed the connection at once: check that this port serves protosocket, and ${other}`;
    default:
      return `; check that the server is running on ${host}:${port}, and ${other}`;
  }
}

/**
 * Connects, turning every failure into a connection error (exit 4) that says
 * what failed and, for TLS, what to try.
 *
 * @throws CliError (connection).
 */
export async function openConnection(options: ConnectOptions): Promise<ConnectionTransport> {
  try {
    return await connect(options);
  } catch (e) {
    if (!(e instanceof RpcError)) throw e;
    if (e.code === Code.InvalidArgument) {
      throw new CliError("usage", e.rawMessage, { cause: e });
    }
    const where = `${options.host ?? "127.0.0.1"}:${options.port}`;
    if (e.code === Code.DeadlineExceeded) {
      throw new CliError(
        "connection",
        `cannot connect to ${where}: no connection after ${options.connectTimeoutMs ?? 10_000} ms (--connect-timeout)`,
        { cause: e },
      );
    }
    const errno = errnoOf(e);
    const cause = e.cause instanceof Error ? e.cause.message : e.rawMessage;
    const host = options.host ?? "127.0.0.1";
    if (options.tls !== undefined && (errno === undefined || !NETWORK_CODES.has(errno))) {
      const hint = tlsHint(errno, cause) || networkHint(errno, host, options.port, true);
      throw new CliError("connection", `TLS handshake with ${where} failed: ${cause}${hint}`, { cause: e });
    }
    throw new CliError(
      "connection",
      `cannot connect to ${where}: ${cause}${networkHint(errno, host, options.port, options.tls !== undefined)}`,
      {
        cause: e,
      },
    );
  }
}
