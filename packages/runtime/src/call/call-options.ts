import type { ContextValues } from "../context-values.js";
import type { MetadataInit } from "../metadata.js";
import { checkFunction, checkNumber, checkObject, checkSignal, invalidOption } from "../util/validate.js";

/** Options of one call. */
export interface CallOptions {
  /** Cancels the call: a Cancel is sent and the call fails with `cancelled`. */
  signal?: AbortSignal;
  /**
   * Fails the call with `deadline_exceeded` (and sends a Cancel) after this
   * many milliseconds. `Infinity` (or leaving it out) sets no deadline.
   */
  timeoutMs?: number;
  /** Values for the interceptors of this call (a new, empty bag when not given). */
  contextValues?: ContextValues;
  /**
   * Metadata sent with the request (auth tokens, trace context …), in the
   * envelope's metadata field. Ignored when the service's envelope binds
   * none.
   */
  metadata?: MetadataInit;
  /**
   * Receives the trailers the server sent with the call's final frame (the
   * response, the stream's End, or the error), when the envelope binds a
   * metadata field and the server sent any.
   */
  onTrailer?: (trailers: ReadonlyMap<string, string>) => void;
  /**
   * Routing key for a pool's `key-hash` picker: calls with the same key go
   * to the same server while it is up (rendezvous hashing). Other pickers
   * and single connections ignore it.
   */
  key?: string;
}

/**
 * Validates call options where they enter the API.
 *
 * @throws RpcError `invalid_argument` naming the option.
 */
export function checkCallOptions(options: CallOptions | undefined): void {
  if (options === undefined) return;
  checkObject("call options", options);
  checkSignal("signal", options.signal);
  checkNumber("timeoutMs", options.timeoutMs, 0, { infinity: true, fraction: true, max: Number.MAX_VALUE });
  checkFunction("onTrailer", options.onTrailer);
  if (options.key !== undefined && typeof options.key !== "string") throw invalidOption("key", options.key, "a string");
  const values = options.contextValues;
  if (values !== undefined && (values === null || typeof (values as { get?: unknown }).get !== "function")) {
    throw invalidOption("contextValues", values, "a ContextValues bag (createContextValues())");
  }
}
