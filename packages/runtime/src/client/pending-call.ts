import type { Message } from "@bufbuild/protobuf";
import type { ControlCode } from "../envelope/control-code.js";
import type { EnvelopeCodecs, MethodCodec } from "../envelope/service-codecs.js";
import type { RpcError } from "../errors.js";
import type { CallOptions } from "./call-options.js";

/** A call in flight on a {@link ClientConnection}, as the connection routes frames to it. */
export interface PendingCall {
  /** The message id; assigned when the request is sent. */
  id: number;
  /** The link's number of the request's frame (the link's `framesSent` right after it was queued). */
  seq: number;
  /** The codecs of the call's service (its response is decoded with them). */
  readonly codecs: EnvelopeCodecs;
  /** The method. */
  readonly method: MethodCodec;
  /** Receives the trailers of the call's final frame, when it carries any. */
  onTrailer: ((trailers: ReadonlyMap<string, string>) => void) | undefined;
  /** A response message arrived. */
  deliver(value: Message): void;
  /** The server ended the stream. */
  end(): void;
  /** The call failed: an error from the server, a cancel, or the connection closed. */
  fail(error: RpcError): void;
}

/** What a call object needs of the connection it runs on (ClientConnection implements it). */
export interface CallHost {
  /**
   * Sends the call's first frame (its request, or for a request stream its
   * first message, or End when it has none: `code`) and registers it;
   * returns the error instead when the call cannot start. `options` are
   * checked here unless the call was {@link reserve}d with them.
   */
  open(call: PendingCall, input: unknown, options: CallOptions | undefined, code?: ControlCode): RpcError | undefined;
  /**
   * Registers a request-streaming call before its first frame (which waits
   * for its first message): it fails with the others if the connection
   * closes. Returns the error instead when the call cannot start.
   */
  reserve(call: PendingCall, options: CallOptions | undefined): RpcError | undefined;
  /**
   * Sends a further frame of an open request-streaming call: a message
   * (Normal), End, or Cancel. Returns the error when it cannot be sent.
   */
  send(call: PendingCall, code: ControlCode, input?: unknown): RpcError | undefined;
  /** Forgets a call the caller gave up on and tells the server (when the call reached it). */
  cancel(call: PendingCall): void;
  /** True while the connection keeps up: request streams are pulled only then. */
  readonly writable: boolean;
  /** Resolves when {@link writable} is true again (or the connection closed). */
  whenWritable(): Promise<void>;
  /** Stops reading for a stream whose reader fell behind. */
  pauseForStream(): void;
  /** Undoes one {@link pauseForStream}. */
  resumeForStream(): void;
  /** The method and peer, for errors. */
  errorContext(method: MethodCodec): { method: string; peer: string };
  /** The error of a call whose deadline passed. */
  deadlineError(method: MethodCodec, timeoutMs: number): RpcError;
  /** The error of a call its caller cancelled. */
  cancelledError(method: MethodCodec, reason: unknown): RpcError;
}
