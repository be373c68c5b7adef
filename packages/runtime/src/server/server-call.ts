import type { MessageId } from "../envelope/message-id.js";
import type { LongTimeout } from "../util/long-timeout.js";
import type { CallContext } from "./handler-context.js";
import type { ServedMethod } from "./served-method.js";

/** A call a server connection is running. */
export class ServerCall {
  /** True once the call has been answered or stopped; nothing more is sent for it. */
  done = false;
  /** The response stream being sent, for a streaming call. */
  iterator: AsyncIterator<unknown> | undefined;
  /** Ends the call when the deadline the client sent passes. */
  deadlineTimer: LongTimeout | undefined;

  /**
   * @param id the message id.
   * @param method the method.
   * @param ctx the handler's context.
   */
  constructor(
    readonly id: MessageId,
    readonly method: ServedMethod,
    readonly ctx: CallContext,
  ) {}
}
