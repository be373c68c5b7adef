import type { Message } from "@bufbuild/protobuf";
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
  /** A response message arrived. */
  deliver(value: Message): void;
  /** The server ended the stream. */
  end(): void;
  /** The call failed: an error from the server, a cancel, or the connection closed. */
  fail(error: RpcError): void;
}

/** What a call object needs of the connection it runs on (ClientConnection implements it). */
export interface CallHost {
  /** Sends the call's request and registers it; returns the error instead when the call cannot start. */
  open(call: PendingCall, input: unknown, options: CallOptions | undefined): RpcError | undefined;
  /** Forgets a call the caller gave up on and tells the server. */
  cancel(call: PendingCall): void;
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
