import type { Message } from "@bufbuild/protobuf";
import type { EnvelopeCodecs, MethodCodec } from "../envelope/service-codecs.js";
import { Code, RpcError } from "../errors.js";
import { startTimeout, type LongTimeout } from "../util/long-timeout.js";
import type { CallOptions } from "./call-options.js";
import type { CallHost, PendingCall } from "./pending-call.js";

/** A unary call in flight: one response settles it. A class, not closures, to keep the hot path light. */
export class UnaryCall implements PendingCall {
  id = 0;
  onTrailer: ((trailers: ReadonlyMap<string, string>) => void) | undefined;
  seq = 0;
  private timer: LongTimeout | undefined;
  private signal: AbortSignal | undefined;

  /**
   * @param conn the connection the call runs on.
   * @param codecs the codecs of the method's service.
   * @param method the method.
   * @param resolveFn settles the caller's promise with the response.
   * @param rejectFn settles the caller's promise with an error.
   */
  constructor(
    private readonly conn: CallHost,
    readonly codecs: EnvelopeCodecs,
    readonly method: MethodCodec,
    private readonly resolveFn: (value: Message) => void,
    private readonly rejectFn: (error: RpcError) => void,
  ) {}

  /** Starts the call's deadline and listens to its signal. */
  arm(options: CallOptions): void {
    const { signal, timeoutMs } = options;
    if (timeoutMs !== undefined) {
      this.timer = startTimeout(() => this.abort(this.conn.deadlineError(this.method, timeoutMs)), timeoutMs);
    }
    if (signal !== undefined) {
      this.signal = signal;
      // The call itself listens (handleEvent): no closure per call.
      signal.addEventListener("abort", this, { once: true });
    }
  }

  deliver(value: Message): void {
    this.disarm();
    this.resolveFn(value);
  }

  end(): void {
    this.fail(new RpcError(Code.Internal, "protocol violation by server: End on a unary call", [], this.conn.errorContext(this.method)));
  }

  fail(error: RpcError): void {
    this.disarm();
    this.rejectFn(error);
  }

  /** The caller's signal aborted (the call is its listener object). */
  handleEvent(): void {
    this.abort(this.conn.cancelledError(this.method, this.signal?.reason));
  }

  /** The caller gave up: tell the server, and fail. */
  private abort(error: RpcError): void {
    this.conn.cancel(this);
    this.fail(error);
  }

  private disarm(): void {
    this.timer?.cancel();
    this.signal?.removeEventListener("abort", this);
  }
}
