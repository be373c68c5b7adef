import type { DescMethod } from "@bufbuild/protobuf";
import { createContextValues, type ContextValues } from "../context-values.js";
import type { HandlerContext } from "./handler-types.js";

/**
 * The context of one call. The AbortController behind `signal` and the
 * values bag are created only when read, so calls that never look at them
 * cost neither.
 */
export class CallContext implements HandlerContext {
  /** The client's address. */
  readonly peer: string;
  /** "package.Service/Method". */
  readonly method: string;
  /** The method's descriptor. */
  readonly methodDesc: DescMethod;
  private readonly id: number | bigint;
  private controller: AbortController | undefined;
  private values: ContextValues | undefined;
  private abortReason: unknown;
  private aborted = false;

  /**
   * @param peer the client's address.
   * @param method "package.Service/Method".
   * @param methodDesc the method's descriptor.
   * @param id the call's message id.
   */
  constructor(peer: string, method: string, methodDesc: DescMethod, id: number | bigint) {
    this.peer = peer;
    this.method = method;
    this.methodDesc = methodDesc;
    this.id = id;
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
