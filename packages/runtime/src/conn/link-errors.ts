import { Code, RpcError } from "../errors.js";
import { FrameError } from "../wire/frame-error.js";

/** The error for a frame a link will not send: `frameBytes` (prefix included) over `maxFrameBytes`. */
export function frameLimitError(frameBytes: number, maxFrameBytes: number, peer: string): RpcError {
  return new RpcError(
    Code.ResourceExhausted,
    `frame of ${frameBytes} bytes exceeds the limit of ${maxFrameBytes} bytes (maxFrameBytes)`,
    [],
    { peer },
  );
}

/**
 * The RpcError for what a peer sent that breaks the protocol: a FrameError
 * from the decoder, or an envelope the layer above could not decode.
 */
export function protocolViolation(e: unknown, peer: string): RpcError {
  if (e instanceof RpcError) return e.withContext({ peer });
  if (e instanceof FrameError) {
    return new RpcError(
      e.kind === "frame-too-large" ? Code.ResourceExhausted : Code.Internal,
      `protocol violation by peer: ${e.message}; connection closed`,
      [],
      { peer, cause: e },
    );
  }
  const message = e instanceof Error ? e.message : String(e);
  return new RpcError(Code.Internal, `protocol violation by peer: undecodable frame (${message}); connection closed`, [], {
    peer,
    cause: e,
  });
}

/** The error for a framing chosen after bytes went over a link with another one. */
export function framingChangeError(from: string, to: string, peer: string): RpcError {
  return new RpcError(
    Code.Internal,
    `cannot switch the connection from ${from} to ${to} framing: bytes were already sent or received (one connection carries one encoding)`,
    [],
    { peer },
  );
}
