import type { StreamRequest, StreamResponse } from "../call/request.js";
import type { EnvelopeCodecs, MethodCodec } from "../encoding/encoding.js";
import { Code, RpcError } from "../errors.js";
import { OneMessage } from "../util/one-message.js";
import type { CallHost } from "./client-call.js";
import { ClientCall } from "./client-call.js";
import { RequestSender, type RequestStreamCall } from "./request-sender.js";
import { NO_TRAILER } from "./unary-call.js";

/**
 * A client-streaming call: the caller's requests go out through a
 * {@link RequestSender}; one response (or an error) settles the call, and
 * stops the sender if the server answered before the requests ended.
 */
export class ClientStreamCall extends ClientCall implements RequestStreamCall {
  private readonly sender: RequestSender;
  private settled = false;

  /**
   * @param conn the connection the call runs on.
   * @param codecs the codecs of the method's service.
   * @param method the method.
   * @param request the call's request; its messages are the requests.
   * @param resolveFn settles the call with its response (a stream of its one message).
   * @param rejectFn settles the call with an error.
   */
  constructor(
    conn: CallHost,
    codecs: EnvelopeCodecs,
    method: MethodCodec,
    request: StreamRequest,
    private readonly resolveFn: (value: StreamResponse) => void,
    private readonly rejectFn: (error: RpcError) => void,
  ) {
    super(conn, codecs, method, request);
    this.sender = new RequestSender(conn, this, request.message);
  }

  /** Starts sending the requests (the call is registered). */
  start(): void {
    this.sender.start();
  }

  deliver(value: unknown, trailers: ReadonlyMap<string, string> | undefined): void {
    if (this.settle(true)) this.resolveFn({ stream: true, message: new OneMessage(value), trailer: trailers ?? NO_TRAILER });
  }

  end(trailers: ReadonlyMap<string, string> | undefined): void {
    this.fail(
      new RpcError(Code.Internal, "protocol violation by server: End on a client-streaming call", [], {
        ...this.conn.errorContext(this.method),
        ...(trailers !== undefined ? { metadata: trailers } : {}),
      }),
    );
  }

  fail(error: RpcError): void {
    if (this.settle(true)) this.rejectFn(error);
  }

  requestsFailed(error: RpcError): void {
    this.giveUp(error);
  }

  protected abandon(error: RpcError): void {
    if (this.settle(false)) this.rejectFn(error);
  }

  /** Ends the call once; `byServer` when its outcome came from the server (or the connection). */
  private settle(byServer: boolean): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.unlisten();
    this.sender.stop(byServer);
    return true;
  }
}
