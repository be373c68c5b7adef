import { isMarkedNotRun } from "./not-run.js";

/**
 * True when `error` failed a call whose request no server ran, so sending
 * it again cannot run it twice, whatever its method does: the request never
 * left this process (still queued when the connection closed, or the
 * connection was closed before it was sent), or a draining server refused
 * it (or a request sent before it, or said as it shut down that it ran
 * nothing it had not answered). False means the call may have run.
 *
 * A pool already sends such calls elsewhere (`retry.maxNeverRanRetries`),
 * except client- and bidi-streaming calls, whose requests it cannot read
 * twice: a caller that can produce them again may retry on this answer.
 * An interceptor that replaces an error with one of its own drops the mark.
 */
export function neverRan(error: unknown): boolean {
  return isMarkedNotRun(error);
}
