import { checkNumber, checkObject, checkSignal, invalidOption } from "../util/validate.js";
import type { ConnectionTransport, ConnectOptions } from "./connect-options.js";
import { checkDialSettings, dial } from "./dial.js";

export type { ConnectionSettingsOptions, ConnectionTransport, ConnectOptions } from "./connect-options.js";

/**
 * Opens one connection to a protosocket server: a {@link Transport} whose
 * calls are multiplexed by message id, thousands in flight at once. Every
 * client created on it must use the same envelope pair.
 *
 * @throws RpcError `invalid_argument` for bad options (naming the option),
 *   `unavailable` when the server cannot be reached, `deadline_exceeded`
 *   when `connectTimeoutMs` passes, `cancelled` when `signal` aborts.
 */
export async function connect(options: ConnectOptions): Promise<ConnectionTransport> {
  checkObject("connect options", options);
  if (options === undefined) throw invalidOption("connect options", options, "an object with at least a port");
  const host = options.host ?? "127.0.0.1";
  if (typeof host !== "string" || host.length === 0) throw invalidOption("host", options.host, "a host name or IP address");
  if (options.port === undefined) throw invalidOption("port", options.port, "a port from 1 to 65535");
  const port = checkNumber("port", options.port, 0, { min: 1, max: 65535 });
  const settings = checkDialSettings(options);
  const signal = checkSignal("signal", options.signal);
  return dial({ host, port }, settings, { signal });
}
