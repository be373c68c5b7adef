import type { RpcError } from "../errors.js";

/** Errors of calls whose request no server ran (see {@link neverRan}). */
const notRun = new WeakSet<RpcError>();

/** Records that the call `error` failed never ran on any server; returns `error`. */
export function markNotRun(error: RpcError): RpcError {
  notRun.add(error);
  return error;
}

/**
 * True when `error` failed a call whose request no server ran: it never
 * left this process (still queued when the connection closed, or the
 * connection was closed before it was sent), or a draining server refused
 * it (or a request sent before it). Such a call may be sent again elsewhere
 * whatever its method does. False means it may have run.
 */
export function neverRan(error: unknown): boolean {
  return typeof error === "object" && error !== null && notRun.has(error as RpcError);
}
