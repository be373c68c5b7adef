/**
 * A call's request built from its parts, for client APIs other than
 * `createClient`'s that hand a call over in pieces (connect-es's Transport:
 * a method, a signal, a timeout, headers, the input and context values):
 * the same checks, one signal carrying the caller's and the deadline, and
 * the same deadline error as a call made through a generated client.
 */
import type { ContextValues } from "../context-values.js";
import type { AnyServiceDefinition, RpcMethod } from "../encoding/service.js";
import { Code, RpcError } from "../errors.js";
import type { MetadataInit } from "../metadata.js";
import { toMetadata } from "../metadata.js";
import { createContextValues } from "../context-values.js";
import { createDeadlineSignal } from "../util/deadline-signal.js";
import { isAsyncIterable } from "../util/map-iterable.js";
import { checkCallOptions } from "./call-options.js";
import type { AnyRequest } from "./request.js";
import type { Transport } from "./transport.js";

/** The parts of a call besides its method and message: what `CallOptions` holds, but `onTrailer`. */
export interface CallParts {
  /** Cancels the call. */
  signal?: AbortSignal;
  /** Milliseconds the call may take; undefined or `Infinity` for no deadline. */
  timeoutMs?: number;
  /** Request metadata. */
  metadata?: MetadataInit;
  /** The call's values bag (a new, empty one when not given). */
  contextValues?: ContextValues;
  /** A pool's `key-hash` routing key. */
  key?: string;
}

/** A request, and what ends its deadline's timer. */
export interface PreparedRequest {
  /** `stream` false for a unary method, true for the others. */
  readonly request: AnyRequest;
  /** Stops the deadline's timer and the listener on the caller's signal: call it once the call is over. */
  cleanup(): void;
}

/**
 * The request of a call of `method` on `entry` (a transport: its `target`
 * is the request's `peer`), built as `createClient`'s methods build theirs:
 * options checked, one signal that aborts when `parts.signal` does or at
 * the deadline (its reason then an RpcError `deadline_exceeded`), the
 * absolute deadline, metadata as a Map. `message` is the request message of
 * a unary method, and an AsyncIterable of them for the others (a
 * server-streaming call's holds one).
 *
 * @throws RpcError `invalid_argument` naming a part that is not valid, or
 *   when a streaming method's `message` is not an AsyncIterable.
 */
export function createCallRequest(
  entry: Pick<Transport, "target">,
  def: AnyServiceDefinition,
  method: RpcMethod,
  message: unknown,
  parts: CallParts = {},
): PreparedRequest {
  return buildRequest(entry.target, def, method, `${def.service.typeName}/${method.name}`, message, parts);
}

/** {@link createCallRequest} with the method's full name made once by the caller (a client's method). */
export function buildRequest(
  peer: string,
  def: AnyServiceDefinition,
  method: RpcMethod,
  methodName: string,
  message: unknown,
  parts: CallParts | undefined,
): PreparedRequest {
  checkCallOptions(parts);
  const stream = method.methodKind !== "unary";
  if (stream && !isAsyncIterable(message)) {
    throw new RpcError(Code.InvalidArgument, `the requests of a ${method.methodKind} call must be an AsyncIterable`, [], {
      method: methodName,
      peer,
    });
  }
  const metadata = toMetadata("metadata", parts?.metadata);
  const timeoutMs = parts?.timeoutMs;
  const deadline = createDeadlineSignal(
    parts?.signal,
    timeoutMs,
    () => new RpcError(Code.DeadlineExceeded, `no response within ${timeoutMs} ms (timeoutMs)`, [], { method: methodName, peer }),
  );
  // One object, whichever the kind: `stream` and the type of `message` agree (checked above).
  const request = {
    stream,
    service: def,
    method,
    methodName,
    peer,
    signal: deadline.signal,
    deadline: deadline.deadline,
    metadata,
    contextValues: parts?.contextValues ?? createContextValues(),
    key: parts?.key,
    message,
  } as AnyRequest;
  return { request, cleanup: deadline.cleanup };
}
