import type { StreamRequest } from "../call/request.js";
import type { EnvelopeCodecs, MethodCodec } from "../encoding/encoding.js";
import type { RpcError } from "../errors.js";
import type { CallHost } from "./client-call.js";
import { RequestSender, type RequestStreamCall } from "./request-sender.js";
import { ServerStreamCall } from "./server-stream-call.js";

/**
 * A bidi-streaming call: the responses are queued (and read paused past the
 * stream buffer) as for a server stream; the requests go out through a
 * {@link RequestSender}. When the call ends, from either side, the sender
 * stops.
 */
export class BidiStreamCall extends ServerStreamCall implements RequestStreamCall {
  private readonly sender: RequestSender;

  /**
   * @param conn the connection the call runs on.
   * @param codecs the codecs of the method's service.
   * @param method the method.
   * @param request the call's request; its messages are the requests.
   * @param highWater buffered responses above which the connection pauses.
   */
  constructor(conn: CallHost, codecs: EnvelopeCodecs, method: MethodCodec, request: StreamRequest, highWater: number) {
    super(conn, codecs, method, request, highWater);
    this.sender = new RequestSender(conn, this, request.message);
  }

  /** Starts sending the requests (the call is registered). */
  start(): void {
    this.sender.start();
  }

  requestsFailed(error: RpcError): void {
    this.giveUp(error);
  }

  protected override closed(byServer: boolean): void {
    this.sender.stop(byServer);
  }
}
