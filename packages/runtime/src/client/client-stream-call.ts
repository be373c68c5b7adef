import type { Message } from "@bufbuild/protobuf";
import type { EnvelopeCodecs, MethodCodec } from "../envelope/service-codecs.js";
import { Code, RpcError } from "../errors.js";
import { startTimeout, type LongTimeout } from "../util/long-timeout.js";
import type { CallOptions } from "./call-options.js";
import type { CallHost } from "./pending-call.js";
import { RequestSender, type RequestStreamCall } from "./request-sender.js";

/**
 * A client-streaming call: the caller's requests go out through a
 * {@link RequestSender}; one response (or an error) settles the call, and
 * stops the sender if the server answered before the requests ended.
 */
export class ClientStreamCall implements RequestStreamCall {
  id = 0;
  seq = 0;
  onTrailer: ((trailers: ReadonlyMap<string, string>) => void) | undefined;
  private readonly sender: RequestSender;
  private settled = false;
  private timer: LongTimeout | undefined;
  private signal: AbortSignal | undefined;

  /**
   * @param conn the connection the call runs on.
   * @param codecs the codecs of the method's service.
   * @param method the method.
   * @param input the caller's requests.
   * @param resolveFn settles the caller's promise with the response.
   * @param rejectFn settles the caller's promise with an error.
   */
  constructor(
    private readonly conn: CallHost,
    readonly codecs: EnvelopeCodecs,
    readonly method: MethodCodec,
    input: AsyncIterable<unknown>,
    private readonly resolveFn: (value: Message) => void,
    private readonly rejectFn: (error: RpcError) => void,
  ) {
    this.sender = new RequestSender(conn, this, input);
  }

  /** Registers the call, starts its deadline and signal, and starts sending. */
  start(options: CallOptions | undefined): void {
    const early = this.conn.reserve(this, options);
    if (early !== undefined) {
      this.settled = true;
      this.rejectFn(early);
      return;
    }
    if (options?.timeoutMs !== undefined) {
      const timeoutMs = options.timeoutMs;
      this.timer = startTimeout(() => this.abort(this.conn.deadlineError(this.method, timeoutMs)), timeoutMs);
    }
    if (options?.signal !== undefined) {
      this.signal = options.signal;
      this.signal.addEventListener("abort", this.onAbort, { once: true });
    }
    this.sender.start();
  }

  deliver(value: Message): void {
    if (this.settle(true)) this.resolveFn(value);
  }

  end(): void {
    this.fail(
      new RpcError(Code.Internal, "protocol violation by server: End on a client-streaming call", [], this.conn.errorContext(this.method)),
    );
  }

  fail(error: RpcError): void {
    if (this.settle(true)) this.rejectFn(error);
  }

  requestsFailed(error: RpcError): void {
    this.abort(error);
  }

  private readonly onAbort = (): void => {
    this.abort(this.conn.cancelledError(this.method, this.signal?.reason));
  };

  /** The client gives up (deadline, signal, a failed request stream): tell the server, and fail. */
  private abort(error: RpcError): void {
    if (this.settled) return;
    this.conn.cancel(this);
    if (this.settle(false)) this.rejectFn(error);
  }

  /** Ends the call once; `byServer` when its outcome came from the server (or the connection). */
  private settle(byServer: boolean): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.timer?.cancel();
    this.signal?.removeEventListener("abort", this.onAbort);
    this.sender.stop(byServer);
    return true;
  }
}
