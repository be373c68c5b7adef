import type { Message } from "@bufbuild/protobuf";
import type { EnvelopeCodecs, MethodCodec } from "../envelope/service-codecs.js";
import type { RpcError } from "../errors.js";

/** A call in flight on a {@link ClientConnection}, as the connection routes frames to it. */
export interface PendingCall {
  /** The message id; assigned when the request is sent. */
  id: number;
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
