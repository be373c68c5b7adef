import type { MessageId } from "../encoding/message-id.js";
import type { LongTimeout } from "../util/long-timeout.js";
import type { CallContext } from "./handler-context.js";
import type { RequestStream } from "./request-stream.js";
import type { ServedMethod } from "./served-method.js";

/** A call a server connection is running. */
export class ServerCall {
  /** True once the call has been answered or stopped; nothing more is sent for it. */
  done = false;
  /** The response stream being sent, for a streaming call. */
  iterator: AsyncIterator<unknown> | undefined;
  /** Ends the call when the deadline the client sent passes. */
  deadlineTimer: LongTimeout | undefined;
  /** The milliseconds left to the deadline the client sent, when it sent one. */
  deadlineMs: number | undefined;
  /** The requests, for a client- or bidi-streaming call. */
  input: RequestStream | undefined;
  /** True while the client's side of a request stream is open: End or Cancel has not arrived. */
  inputOpen = false;

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
