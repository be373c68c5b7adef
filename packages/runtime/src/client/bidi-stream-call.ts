import type { EnvelopeCodecs, MethodCodec } from "../envelope/service-codecs.js";
import type { RpcError } from "../errors.js";
import type { CallOptions } from "./call-options.js";
import type { CallHost } from "./pending-call.js";
import { RequestSender, type RequestStreamCall } from "./request-sender.js";
import { ServerStreamCall } from "./server-stream-call.js";

/**
 * A bidi-streaming call, as the async iterator of its responses: the
 * responses are queued (and read paused past the stream buffer) as for a
 * server stream; the requests go out through a {@link RequestSender}, from
 * the first `next()`. When the call ends, from either side, the sender
 * stops.
 */
export class BidiStreamCall extends ServerStreamCall implements RequestStreamCall {
  private readonly sender: RequestSender;

  /**
   * @param conn the connection the call runs on.
   * @param codecs the codecs of the method's service.
   * @param method the method.
   * @param input the caller's requests.
   * @param options the call's options.
   * @param highWater buffered responses above which the connection pauses.
   */
  constructor(
    conn: CallHost,
    codecs: EnvelopeCodecs,
    method: MethodCodec,
    input: AsyncIterable<unknown>,
    options: CallOptions | undefined,
    highWater: number,
  ) {
    super(conn, codecs, method, undefined, options, highWater);
    this.sender = new RequestSender(conn, this, input);
  }

  requestsFailed(error: RpcError): void {
    this.abort(error);
  }

  /** Registers the call and starts sending its requests; returns the error when the call cannot start. */
  protected override begin(): RpcError | undefined {
    this.state = "open";
    const early = this.conn.reserve(this, this.options);
    if (early !== undefined) return early;
    this.arm();
    this.sender.start();
    return undefined;
  }

  protected override closed(byServer: boolean): void {
    this.sender.stop(byServer);
  }
}
