import { createContextValues, type ContextValues } from "../context-values.js";
import { EMPTY_METADATA } from "../metadata.js";
import type { RpcMethod } from "../encoding/service.js";
import type { HandlerContext } from "./handler-types.js";

/**
 * The context of one call. The AbortController behind `signal` and the
 * values bag are created only when read, so calls that never look at them
 * cost neither.
 */
export class CallContext implements HandlerContext<RpcMethod> {
  /** The client's address. */
  readonly peer: string;
  /** "package.Service/Method". */
  readonly method: string;
  /** The method's descriptor (protobuf's DescMethod, or another encoding's method). */
  readonly methodDesc: RpcMethod;
  private readonly id: number | bigint;
  /** The metadata the client sent. */
  readonly metadata: ReadonlyMap<string, string>;
  /** When the call must be complete (Date.now() ms), if the client sent a deadline. */
  readonly deadline: number | undefined;
  private controller: AbortController | undefined;
  private values: ContextValues | undefined;
  private trailerMap: Map<string, string> | undefined;
  private abortReason: unknown;
  private aborted = false;

  /**
   * @param peer the client's address.
   * @param method "package.Service/Method".
   * @param methodDesc the method's descriptor.
   * @param id the call's message id.
   * @param metadata the metadata the client sent.
   * @param deadline when the call must be complete (Date.now() ms), if known.
   */
  constructor(
    peer: string,
    method: string,
    methodDesc: RpcMethod,
    id: number | bigint,
    metadata: ReadonlyMap<string, string> = EMPTY_METADATA,
    deadline?: number,
  ) {
    this.peer = peer;
    this.method = method;
    this.methodDesc = methodDesc;
    this.id = id;
    this.metadata = metadata;
    this.deadline = deadline;
  }

  /** Trailers sent with the call's final frame (created when first read). */
  get trailers(): Map<string, string> {
    this.trailerMap ??= new Map();
    return this.trailerMap;
  }

  /** The trailers set so far, without creating any: for the final frame. */
  get trailersIfAny(): ReadonlyMap<string, string> | undefined {
    return this.trailerMap !== undefined && this.trailerMap.size > 0 ? this.trailerMap : undefined;
  }

  /** Milliseconds left to the deadline (at least 0), or undefined without one. */
  timeoutMs(): number | undefined {
    return this.deadline === undefined ? undefined : Math.max(0, this.deadline - Date.now());
  }

  /** The signal and what is left of the deadline, for a call made downstream. */
  callOptions(): { signal: AbortSignal; timeoutMs?: number } {
    const timeoutMs = this.timeoutMs();
    return timeoutMs === undefined ? { signal: this.signal } : { signal: this.signal, timeoutMs };
  }

  /** The call's message id. */
  get messageId(): bigint {
    return BigInt(this.id);
  }

  /** Values shared with the server's interceptors for this call (created when first read). */
  get contextValues(): ContextValues {
    this.values ??= createContextValues();
    return this.values;
  }

  /** Aborts when the client cancels, the connection is lost, or the server shuts down. */
  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  /** Aborts the signal with `reason` (once). */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.abortReason = reason;
    this.controller?.abort(reason);
  }
}
