import type { UnaryRequest, UnaryResponse } from "../call/request.js";
import type { EnvelopeCodecs, MethodCodec } from "../encoding/encoding.js";
import { Code, RpcError } from "../errors.js";
import { type CallHost, ClientCall } from "./client-call.js";

/** The trailers of every response that came with none (read-only: one Map for all). */
export const NO_TRAILER: ReadonlyMap<string, string> = new Map();

/** A unary call in flight: one response settles it. A class, not closures, to keep the hot path light. */
export class UnaryCall extends ClientCall {
  /**
   * @param conn the connection the call runs on.
   * @param codecs the codecs of the method's service.
   * @param method the method.
   * @param request the call's request.
   * @param resolveFn settles the caller's promise with the response.
   * @param rejectFn settles the caller's promise with an error.
   */
  constructor(
    conn: CallHost,
    codecs: EnvelopeCodecs,
    method: MethodCodec,
    request: UnaryRequest,
    private readonly resolveFn: (value: UnaryResponse) => void,
    private readonly rejectFn: (error: RpcError) => void,
  ) {
    super(conn, codecs, method, request);
  }

  deliver(value: unknown, trailers: ReadonlyMap<string, string> | undefined): void {
    this.unlisten();
    this.resolveFn({ stream: false, message: value, trailer: trailers ?? NO_TRAILER });
  }

  end(trailers: ReadonlyMap<string, string> | undefined): void {
    this.fail(
      new RpcError(Code.Internal, "protocol violation by server: End on a unary call", [], {
        ...this.conn.errorContext(this.method),
        ...(trailers !== undefined ? { metadata: trailers } : {}),
      }),
    );
  }

  fail(error: RpcError): void {
    this.unlisten();
    this.rejectFn(error);
  }

  protected abandon(error: RpcError): void {
    this.fail(error);
  }
}
