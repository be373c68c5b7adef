import type { EnvelopeCodecs } from "../encoding/encoding.js";
import type { WireTarget } from "../encoding/envelope-wire.js";
import type { RpcError } from "../errors.js";
import type { MetadataLimits } from "../metadata.js";
import type { ServedMethod } from "./served-method.js";

/** What every connection of a server shares. */
export interface ServingState {
  /** The envelope codecs of every registered service. */
  readonly codecs: EnvelopeCodecs;
  /** Request case → method. */
  readonly routes: ReadonlyMap<WireTarget, ServedMethod>;
  /** Calls that may run at once on one connection. */
  readonly maxConcurrentCalls: number;
  /** Calls running on all the server's connections, and how many may (maxConcurrentCalls). */
  readonly serverCalls: { running: number; readonly max: number };
  /** Largest frame, prefix included (for messages about refused frames). */
  readonly maxFrameBytes: number;
  /** Send the message of a plain Error a handler throws (default: a generic message). */
  readonly exposeErrorMessages: boolean;
  /** Unread messages of one request stream above which the connection stops reading. */
  readonly requestStreamBufferMessages: number;
  /** How long a request stream's handler may wait for a message (0: no limit). */
  readonly requestStreamIdleTimeoutMs: number;
  /** How much metadata a request frame may carry. */
  readonly metadataLimits: MetadataLimits;
  /** Reports a response the server could not send (too large, not a valid message). */
  reportResponseError(error: RpcError, method: string, peer: string): void;
  /** Reports a problem with a connection: a protocol violation, an I/O error, a dropped frame. */
  reportConnectionError(error: RpcError, peer: string): void;
  /** The state that serves a connection whose first frame it accepts instead (side services: side-services.ts). */
  readonly firstFrame?: (body: Uint8Array) => ServingState | undefined;
}
