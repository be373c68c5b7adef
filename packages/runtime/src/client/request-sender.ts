import { ControlCode } from "../encoding/control-code.js";
import { RpcError } from "../errors.js";
import type { CallHost, ClientCall } from "./client-call.js";

/** Requests sent between two turns of the event loop, at most. */
const YIELD_EVERY = 1024;

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A call with a request stream, as its {@link RequestSender} reports to it. */
export interface RequestStreamCall extends ClientCall {
  /**
   * The request stream failed: the caller's iterable threw, or a message
   * could not be sent (not a valid message, over the frame limit, the
   * connection closed). The call must end with `error` (and cancel).
   */
  requestsFailed(error: RpcError): void;
}

/**
 * Sends the request stream of a client- or bidi-streaming call: pulls the
 * caller's iterable only while the connection is writable (a slow
 * connection back-pressures the producer; a slow producer holds up no other
 * call), sends its first message as the frame that opens the call, each
 * next one as a Normal frame with the call's id, and End when it is done
 * (End alone opens a call with no messages). Every frame carries the
 * method's case. See docs/decisions.md for the state machine.
 */
export class RequestSender {
  /** The call's request side on the wire: nothing sent yet, open, or closed (End or Cancel sent). */
  private wire: "none" | "open" | "closed" = "none";
  private stopped = false;
  private inputDone = false;
  private iterator: AsyncIterator<unknown> | undefined;

  /**
   * @param conn the connection the call runs on.
   * @param call the call whose requests these are.
   * @param input the caller's request messages (init shapes or messages).
   */
  constructor(
    private readonly conn: CallHost,
    private readonly call: RequestStreamCall,
    private readonly input: AsyncIterable<unknown>,
  ) {}

  /** Starts pulling and sending; the call must be reserved on the connection. */
  start(): void {
    void this.run();
  }

  /**
   * Stops pulling the caller's iterable (its iterator's `return()` is
   * called, unless it has ended). With `tellServer`, and while the request
   * side is still open on the wire, a Cancel closes it: the call's outcome
   * arrived first, and the server keeps the call's id until the client's side
   * closes too.
   */
  stop(tellServer: boolean): void {
    if (this.stopped) return;
    this.stopped = true;
    if (tellServer && this.wire === "open") this.conn.send(this.call, ControlCode.Cancel);
    this.wire = "closed";
    const it = this.iterator;
    if (it === undefined || this.inputDone) return;
    this.inputDone = true;
    if (it.return === undefined) return;
    try {
      // Not awaited: a generator that is blocked finishes its return() when it unblocks.
      Promise.resolve(it.return()).catch(() => {});
    } catch {
      // A throwing return() of the caller's iterator changes nothing here.
    }
  }

  private async run(): Promise<void> {
    try {
      const it = this.input[Symbol.asyncIterator]();
      this.iterator = it;
      const conn = this.conn;
      for (let sent = 1; ; sent++) {
        if (this.stopped) return;
        if (!conn.writable) {
          await conn.whenWritable();
        } else if (sent % YIELD_EVERY === 0) {
          // A producer that never awaits real I/O would hold the event loop (and the responses) until the queue filled.
          await yieldToEventLoop();
        }
        if (this.stopped) return;
        let r: IteratorResult<unknown>;
        try {
          r = await it.next();
        } catch (e) {
          this.inputDone = true;
          this.fail(e);
          return;
        }
        // Stopped while the caller produced: stop() already called return().
        if (this.stopped) return;
        const done = r.done === true;
        if (done) this.inputDone = true;
        const code = done ? ControlCode.End : ControlCode.Normal;
        const value = done ? undefined : r.value;
        const error = this.wire === "none" ? conn.open(this.call, value, code) : conn.send(this.call, code, value);
        if (error !== undefined) {
          this.inputDone = done;
          if (!this.stopped) this.call.requestsFailed(error);
          return;
        }
        this.wire = done ? "closed" : "open";
        if (done) return;
      }
    } catch (e) {
      this.fail(e);
    }
  }

  /** The caller's iterable threw (or is not a working iterator). */
  private fail(e: unknown): void {
    if (this.stopped) return;
    const context = this.conn.errorContext(this.call.method);
    const error =
      e instanceof RpcError
        ? e.withContext(context)
        : new RpcError(RpcError.from(e).code, `the request stream failed: ${e instanceof Error ? e.message : String(e)}`, [], {
            ...context,
            cause: e,
          });
    this.call.requestsFailed(error);
  }
}
