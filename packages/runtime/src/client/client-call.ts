import type { AnyRequest } from "../call/request.js";
import type { ControlCode } from "../encoding/control-code.js";
import type { EnvelopeCodecs, MethodCodec } from "../encoding/encoding.js";
import { Code, type RpcError, type RpcErrorContext } from "../errors.js";
import { NEVER_ABORTS } from "../util/deadline-signal.js";

/** What a call needs of the connection it runs on (ClientConnection implements it). */
export interface CallHost {
  /**
   * Sends the call's first frame (its request, or for a request stream its
   * first message, or End when it has none: `code`) and registers it;
   * returns the error instead when the call cannot start.
   */
  open(call: ClientCall, input: unknown, code?: ControlCode): RpcError | undefined;
  /**
   * Registers a request-streaming call before its first frame (which waits
   * for its first message): it fails with the others if the connection
   * closes. Returns the error instead when the call cannot start.
   */
  reserve(call: ClientCall): RpcError | undefined;
  /**
   * Sends a further frame of an open request-streaming call: a message
   * (Normal), End, or Cancel. Returns the error when it cannot be sent.
   */
  send(call: ClientCall, code: ControlCode, input?: unknown): RpcError | undefined;
  /**
   * Forgets a call the caller gave up on and tells the server (when the
   * call reached it): at once, or when its deadline passed and the server
   * was sent it, only after a grace (see ClientConnection.cancel).
   */
  cancel(call: ClientCall, deadline?: boolean): void;
  /** True while the connection keeps up: request streams are pulled only then. */
  readonly writable: boolean;
  /** Resolves when {@link writable} is true again (or the connection closed). */
  whenWritable(): Promise<void>;
  /** Stops reading for a stream whose reader fell behind. */
  pauseForStream(): void;
  /** Undoes one {@link pauseForStream}. */
  resumeForStream(): void;
  /** The method and peer, for errors. */
  errorContext(method: MethodCodec): RpcErrorContext;
  /** The error of a call whose signal aborted with `reason`: the deadline's, or `cancelled`. */
  abortError(method: MethodCodec, reason: unknown): RpcError;
}

/**
 * A call in flight on a connection, as the connection routes frames to it:
 * one class per kind. Each listens to its request's signal (it is its own
 * listener object: no closure per call) from when it is registered until it
 * settles.
 */
export abstract class ClientCall {
  /** The message id; assigned when the first frame is sent. */
  id = 0;
  /** The link's number of the first frame (the link's `framesSent` right after it was queued). */
  seq = 0;
  /** True when the first frame carried the deadline to a server that reads it. */
  deadlineSent = false;
  private listening = false;

  /**
   * @param conn the connection the call runs on.
   * @param codecs the codecs of the method's service (its responses are decoded with them).
   * @param method the method.
   * @param request the call's request: its signal, deadline and metadata.
   */
  constructor(
    protected readonly conn: CallHost,
    readonly codecs: EnvelopeCodecs,
    readonly method: MethodCodec,
    readonly request: AnyRequest,
  ) {}

  /** A response message arrived, with the trailers of the frame when it is the call's last. */
  abstract deliver(value: unknown, trailers: ReadonlyMap<string, string> | undefined): void;
  /** The server ended the stream (with these trailers). */
  abstract end(trailers: ReadonlyMap<string, string> | undefined): void;
  /** The call failed: an error from the server, a cancel, or the connection closed. */
  abstract fail(error: RpcError): void;
  /** The caller gave up (its signal aborted, or its request stream failed): the connection has been told. */
  protected abstract abandon(error: RpcError): void;

  /** Starts listening to the request's signal (the connection calls it once the call is registered). */
  listen(): void {
    const signal = this.request.signal;
    if (signal === NEVER_ABORTS) return;
    this.listening = true;
    signal.addEventListener("abort", this, { once: true });
  }

  /** Stops listening to the request's signal. */
  protected unlisten(): void {
    if (!this.listening) return;
    this.listening = false;
    this.request.signal.removeEventListener("abort", this);
  }

  /** The request's signal aborted (the call is its listener object). */
  handleEvent(): void {
    this.listening = false;
    this.giveUp(this.conn.abortError(this.method, this.request.signal.reason));
  }

  /** The client gives up: tells the server (if the call reached it), then fails the call. */
  protected giveUp(error: RpcError): void {
    this.conn.cancel(this, error.code === Code.DeadlineExceeded);
    this.abandon(error);
  }
}
