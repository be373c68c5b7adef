/**
 * Admission: what a server does with a request frame that is not for a
 * call it is running (nor a Cancel). A pure function of the frame, the
 * method it names and the connection's state: refuse it (and why), ignore
 * it, or start a call.
 */
import { DRAINING_DETAIL } from "../draining.js";
import { ControlCode } from "../encoding/control-code.js";
import { Code, RpcError } from "../errors.js";
import { requestMetadataError, type MetadataOverLimit } from "../metadata.js";
import type { AnyHandler } from "./handler-chain.js";
import { endWithoutStreamError } from "./request-stream.js";
import type { ServedMethod } from "./served-method.js";

/** What to do with a request frame. */
export type Admission =
  /** An End that opens nothing (only an End naming a request-streaming method opens a call, one with no messages). */
  | { readonly action: "ignore" }
  /** Its id is in flight: any answer would reach that call's caller as its outcome, so the frame is dropped (and reported). */
  | { readonly action: "duplicate" }
  /** Answer `error`; when `streamOpen`, the request stream it opened is dropped, not refused frame by frame. */
  | { readonly action: "refuse"; readonly error: RpcError; readonly streamOpen: boolean }
  /** Run it: its method and handler, and whether its requests are a stream. */
  | { readonly action: "start"; readonly method: ServedMethod; readonly handler: AnyHandler; readonly streaming: boolean };

/** What admission reads of the connection (and its server). */
export interface AdmissionState {
  /** Calls running on the connection. */
  readonly activeCalls: number;
  /** Calls that may run at once on it. */
  readonly maxConcurrentCalls: number;
  /** Calls running on the whole server, and how many may. */
  readonly serverCalls: { readonly running: number; readonly max: number };
  /** True once the server drains, or the client has closed its side: no new call runs. */
  readonly closingDown: boolean;
}

/** True for methods whose requests are a stream (client and bidi streaming). */
function takesRequestStream(method: ServedMethod): boolean {
  const kind = method.codec.desc.methodKind;
  return kind === "client_streaming" || kind === "bidi_streaming";
}

/**
 * Decides what to do with a request frame with control code `code`, naming
 * `method` (undefined when it names none this server serves), whose id is
 * in flight when `live`, and whose metadata went past the server's limits
 * when `metadataOverLimit` says so.
 */
export function admit(
  code: ControlCode,
  method: ServedMethod | undefined,
  live: boolean,
  metadataOverLimit: MetadataOverLimit | undefined,
  state: AdmissionState,
): Admission {
  const streaming = method !== undefined && takesRequestStream(method);
  if (code === ControlCode.End && (!streaming || live)) {
    // An End naming a unary or server-streaming method is the client's mistake, told to it; one naming none, or a call
    // still running, is ignored, as the Rust server does.
    if (method === undefined || live) return { action: "ignore" };
    return { action: "refuse", streamOpen: false, error: endWithoutStreamError(method.codec.fullName, method.codec.desc.methodKind) };
  }
  if (live) return { action: "duplicate" };
  const streamOpen = streaming && code === ControlCode.Normal;
  if (state.closingDown) {
    // Marked: this request did not run, and no later one on this connection will, so the client may send them elsewhere.
    return { action: "refuse", streamOpen, error: new RpcError(Code.Unavailable, "server is shutting down", [DRAINING_DETAIL]) };
  }
  const max = state.maxConcurrentCalls;
  if (state.activeCalls >= max) {
    return {
      action: "refuse",
      streamOpen,
      error: new RpcError(
        Code.ResourceExhausted,
        `too many concurrent calls on this connection (limit ${max}, maxConcurrentCallsPerConnection)`,
      ),
    };
  }
  const server = state.serverCalls;
  if (server.running >= server.max) {
    return {
      action: "refuse",
      streamOpen,
      error: new RpcError(Code.ResourceExhausted, `too many concurrent calls on this server (limit ${server.max}, maxConcurrentCalls)`),
    };
  }
  if (metadataOverLimit !== undefined) return { action: "refuse", streamOpen, error: requestMetadataError(metadataOverLimit) };
  if (method === undefined) {
    return {
      action: "refuse",
      streamOpen: false,
      error: new RpcError(Code.Unimplemented, "the request carries no case of a method this server serves"),
    };
  }
  const handler = method.handler;
  if (handler === undefined) {
    return { action: "refuse", streamOpen, error: new RpcError(Code.Unimplemented, `${method.codec.fullName} is not implemented`) };
  }
  return { action: "start", method, handler, streaming };
}
