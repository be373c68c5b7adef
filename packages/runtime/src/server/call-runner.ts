/**
 * Runs the calls a server connection admitted: starts each (its context,
 * deadline timer and request stream), calls its handler (directly, or
 * through the server's interceptors), and writes what it answers: the
 * response, the stream with backpressure, or the error.
 */
import type { AnyResponse } from "../call/request.js";
import type { FrameLink } from "../conn/frame-link.js";
import { ControlCode } from "../encoding/control-code.js";
import type { InboundEnvelope, WireTarget } from "../encoding/envelope-wire.js";
import type { MessageId } from "../encoding/message-id.js";
import { Code, RpcError } from "../errors.js";
import { startTimeout } from "../util/long-timeout.js";
import { readOneMessage } from "../util/one-message.js";
import { createServerRequest, type AnyHandler } from "./handler-chain.js";
import { CallContext } from "./handler-context.js";
import { RequestStream, requestStreamIdleError, type RequestStreamHost } from "./request-stream.js";
import type { ServedMethod } from "./served-method.js";
import { ServerCall } from "./server-call.js";
import type { ServingState } from "./serving-state.js";

/** Stream items produced between two turns of the event loop. */
const STREAM_YIELD_EVERY = 1024;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === "object" && typeof (value as { then?: unknown }).then === "function";
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** What a {@link CallRunner} needs of its connection. */
export interface RunnerHost extends RequestStreamHost {
  /** The link to the client. */
  readonly link: FrameLink;
  /** The client's address. */
  readonly peer: string;
  /** Registers a call that starts. */
  track(call: ServerCall): void;
  /** Marks a call done and forgets it (its last frame is sent right after). */
  removeCall(call: ServerCall): void;
  /** Stops a running call: aborts its signal, fails its request stream, returns its response stream. */
  stopCall(call: ServerCall, reason: RpcError): void;
}

/** The calls of one server connection, from start to their last frame. */
export class CallRunner {
  /** True while the runner holds the connection's reading paused because the client does not read its responses. */
  private readPaused = false;

  /**
   * @param conn the connection.
   * @param state what the server's connections share.
   */
  constructor(
    private readonly conn: RunnerHost,
    private readonly state: ServingState,
  ) {}

  private get link(): FrameLink {
    return this.conn.link;
  }

  private get peer(): string {
    return this.conn.peer;
  }

  /**
   * Starts an admitted call: its context (the metadata and deadline the
   * request carries), its deadline timer, its request stream (for client
   * and bidi streaming: the first message, or none when it opened with
   * End), and its handler. Invalid request bytes throw: a protocol
   * violation that closes the connection.
   */
  start(id: MessageId, method: ServedMethod, handler: AnyHandler, inbound: InboundEnvelope, streaming: boolean): void {
    const request = inbound.code === ControlCode.Normal ? inbound.read(method.codec.request) : undefined;
    const deadlineMs = inbound.deadlineMs;
    // Interceptors get the request's metadata as a Map of their own (the decoder made a new one, or none).
    const chain = method.chain;
    const metadata = chain === undefined ? inbound.metadata : ((inbound.metadata as Map<string, string> | undefined) ?? new Map());
    const ctx = new CallContext(
      this.peer,
      method.codec.fullName,
      method.codec.desc,
      id,
      metadata,
      deadlineMs === undefined ? undefined : Date.now() + deadlineMs,
    );
    const call = new ServerCall(id, method, ctx);
    call.deadlineMs = deadlineMs;
    this.conn.track(call);
    if (deadlineMs !== undefined) call.deadlineTimer = startTimeout(() => this.expire(call, deadlineMs), deadlineMs, true);
    let arg: unknown = request;
    if (streaming) {
      const input = new RequestStream(this.conn, this.state.requestStreamBufferMessages, this.state.requestStreamIdleTimeoutMs, () =>
        this.expireIdle(call),
      );
      call.input = input;
      if (request !== undefined) {
        call.inputOpen = true;
        input.push(request);
      } else {
        input.end();
      }
      arg = input.messages;
    }
    const kind = method.codec.desc.methodKind;
    if (chain !== undefined) {
      this.runIntercepted(call, arg, metadata as Map<string, string>);
    } else if (kind === "unary" || kind === "client_streaming") {
      this.runUnary(call, handler, arg);
    } else {
      let items: AsyncIterable<unknown>;
      try {
        items = (handler as (r: unknown, c: CallContext) => AsyncIterable<unknown>)(arg, call.ctx);
      } catch (e) {
        this.fail(call, e);
        return;
      }
      void this.pump(call, items);
    }
  }

  /** The error of a call whose deadline of `budgetMs` passed. */
  deadlineError(call: ServerCall, budgetMs: number): RpcError {
    return new RpcError(Code.DeadlineExceeded, `the call's deadline of ${budgetMs} ms passed`, [], {
      method: call.method.codec.fullName,
      peer: this.peer,
    });
  }

  private runUnary(call: ServerCall, handler: AnyHandler, request: unknown): void {
    let result: unknown;
    try {
      result = (handler as (r: unknown, c: CallContext) => unknown)(request, call.ctx);
    } catch (e) {
      this.fail(call, e);
      return;
    }
    if (isThenable(result)) {
      result.then(
        (value) => this.respond(call, value),
        (e: unknown) => this.fail(call, e),
      );
    } else {
      this.respond(call, result);
    }
  }

  private runIntercepted(call: ServerCall, request: unknown, metadata: Map<string, string>): void {
    const codec = call.method.codec;
    const req = createServerRequest(codec, this.peer, request, metadata, call.ctx);
    let result: Promise<AnyResponse>;
    try {
      result = (call.method.chain as NonNullable<ServedMethod["chain"]>)(req);
    } catch (e) {
      this.fail(call, e);
      return;
    }
    result.then(
      (res) => this.answer(call, res),
      (e: unknown) => this.fail(call, e),
    );
  }

  /** Sends what the interceptors answered: the response, its one message (client streaming), or its stream. */
  private answer(call: ServerCall, res: AnyResponse): void {
    if (call.done) return;
    if (res === null || typeof res !== "object") {
      this.fail(call, new RpcError(Code.Internal, `an interceptor answered with ${String(res)}`));
      return;
    }
    // Trailers an interceptor put on a response of its own go with the call's final frame too.
    const own = call.ctx.trailersIfAny;
    if (res.trailer !== own && res.trailer.size > 0) for (const [k, v] of res.trailer) call.ctx.trailers.set(k, v);
    const kind = call.method.codec.desc.methodKind;
    if (!res.stream) {
      if (kind === "unary") this.respond(call, res.message);
      else
        this.fail(
          call,
          new RpcError(Code.Internal, `an interceptor answered the ${kind} call ${call.method.codec.fullName} with a unary response`),
        );
      return;
    }
    if (kind === "unary") {
      this.fail(call, new RpcError(Code.Internal, `an interceptor answered the unary call ${call.method.codec.fullName} with a stream`));
    } else if (kind === "client_streaming") {
      let one: unknown;
      try {
        one = readOneMessage(
          res.message,
          (what) =>
            new RpcError(
              Code.Internal,
              `the response stream of a client-streaming call held ${what === "none" ? "no message" : "more than one message"}`,
            ),
        );
      } catch (e) {
        this.fail(call, e);
        return;
      }
      if (one instanceof Promise) {
        one.then(
          (value) => this.respond(call, value),
          (e: unknown) => this.fail(call, e),
        );
      } else {
        this.respond(call, one);
      }
    } else {
      void this.pump(call, res.message);
    }
  }

  respond(call: ServerCall, value: unknown): void {
    if (call.done) return;
    this.conn.removeCall(call);
    try {
      this.sendResponse(call, value);
    } catch (e) {
      this.responseNotSent(call, e, "response");
    }
  }

  /**
   * A response could not be sent: over the frame limit (nothing was
   * written), or the handler's value is not a valid response message. The
   * call fails with the reason, which is also reported.
   */
  private responseNotSent(call: ServerCall, e: unknown, what: string): void {
    const method = call.method.codec.fullName;
    const err =
      e instanceof RpcError && e.code === Code.ResourceExhausted
        ? new RpcError(Code.ResourceExhausted, `${what} not sent: ${e.rawMessage}`, [], { method, peer: this.peer })
        : RpcError.from(e);
    this.state.reportResponseError(err, method, this.peer);
    this.conn.removeCall(call);
    this.sendFailure(call, err);
  }

  /** Sends a stream's items as the client takes them, then End. */
  private async pump(call: ServerCall, items: AsyncIterable<unknown>): Promise<void> {
    const link = this.link;
    let it: AsyncIterator<unknown> | undefined;
    try {
      it = items[Symbol.asyncIterator]();
      call.iterator = it;
      for (let produced = 1; ; produced++) {
        if (call.done) break;
        if (!link.writable) {
          await link.whenWritable();
        } else if (produced % STREAM_YIELD_EVERY === 0) {
          // A generator that never awaits real I/O would hold the event loop
          // (and every other connection) until the queue filled; let I/O run.
          await yieldToEventLoop();
        }
        if (call.done) break;
        const r = await it.next();
        if (call.done) return;
        if (r.done === true) {
          this.conn.removeCall(call);
          this.sendControl(call.id, ControlCode.End, call.ctx.trailersIfAny);
          return;
        }
        try {
          this.sendResponse(call, r.value);
        } catch (e) {
          this.responseNotSent(call, e, "stream response");
          break;
        }
      }
    } catch (e) {
      // The handler's stream failed.
      this.fail(call, e);
    }
    // Stopped early (cancelled, shut down, failed): let the handler's generator clean up.
    if (it?.return !== undefined) it.return().catch(() => {});
  }

  /** Sends one response message; throws the link's RpcError over the frame limit, or the protobuf error of an invalid value. */
  private sendResponse(call: ServerCall, value: unknown): void {
    const codec = call.method.codec;
    // A unary or client-streaming response is the call's final frame: it carries the trailers.
    const kind = codec.desc.methodKind;
    const trailers = kind === "unary" || kind === "client_streaming" ? call.ctx.trailersIfAny : undefined;
    // The envelope codec writes the handler's value as create() would make it, without making it.
    this.send(call.id, ControlCode.Normal, codec.response, value, trailers);
  }

  fail(call: ServerCall, reason: unknown): void {
    if (call.done) return;
    this.conn.removeCall(call);
    this.sendFailure(call, this.failureOf(reason));
  }

  /**
   * What the client is told about a failed call. An RpcError is sent as it
   * is; an AbortError or TimeoutError becomes `cancelled` or
   * `deadline_exceeded`. Anything else becomes `unknown` with a generic
   * message, unless the server exposes error messages: its text may hold
   * internals (paths, queries, peers) the client should not see. The real
   * error is what the server's onHandlerError reports.
   */
  private failureOf(reason: unknown): RpcError {
    const error = RpcError.from(reason);
    if (reason instanceof RpcError || error.code !== Code.Unknown || this.state.exposeErrorMessages) return error;
    return new RpcError(
      Code.Unknown,
      "the handler failed; the server does not send its error's message (throw an RpcError to send one)",
      [],
      { cause: reason },
    );
  }

  /** Ends a failed call on the wire: its error, or a bare Cancel for `cancelled`; with the context's trailers and the error's metadata. */
  sendFailure(call: ServerCall, error: RpcError): void {
    if (error.metadata.size > 0) for (const [k, v] of error.metadata) call.ctx.trailers.set(k, v);
    const trailers = call.ctx.trailersIfAny;
    if (error.code === Code.Cancelled) {
      // A handler that gives up with `cancelled` rejects the call with a bare Cancel, as a Rust server does.
      this.sendControl(call.id, ControlCode.Cancel, trailers);
      return;
    }
    this.sendError(call.id, error, trailers);
  }

  /** Writes a response envelope, unless the link has ended. Throws the link's RpcError for a frame over the limit. */
  private send(id: MessageId, code: ControlCode, target?: WireTarget, body?: unknown, trailers?: ReadonlyMap<string, string>): void {
    const link = this.link;
    if (link.ended) return;
    this.state.codecs.response.write(link, id, code, target, body, trailers === undefined ? undefined : { metadata: trailers });
    if (!this.readPaused && !link.writable && !link.ended) {
      // Inbound backpressure: read no more requests while the client does not read responses.
      this.readPaused = true;
      this.conn.pauseReading();
      void link.whenWritable().then(() => {
        this.readPaused = false;
        this.conn.resumeReading();
      });
    }
  }

  sendControl(id: MessageId, code: ControlCode, trailers?: ReadonlyMap<string, string>): void {
    this.send(id, code, undefined, undefined, trailers);
  }

  /** Sends `error` for `id`: the error case when the envelope has one, otherwise a Cancel. */
  sendError(id: MessageId, error: RpcError, trailers?: ReadonlyMap<string, string>): void {
    const e = this.state.codecs.error;
    if (e === undefined) {
      this.sendControl(id, ControlCode.Cancel, trailers);
      return;
    }
    try {
      this.send(id, ControlCode.Normal, e.target, e.codec.write(error), trailers);
    } catch {
      // An error message too large for the frame limit: a bare Cancel still ends the call.
      this.sendControl(id, ControlCode.Cancel, trailers);
    }
  }

  /** The deadline the client sent has passed: stop the handler and answer `deadline_exceeded`. */
  private expire(call: ServerCall, deadlineMs: number): void {
    if (call.done) return;
    const error = this.deadlineError(call, deadlineMs);
    this.conn.removeCall(call);
    this.conn.stopCall(call, error);
    this.sendFailure(call, error);
  }

  /** A request stream's handler waited longer than requestStreamIdleTimeoutMs for a message: the call ends with deadline_exceeded. */
  expireIdle(call: ServerCall): void {
    if (call.done) return;
    const error = requestStreamIdleError(this.state.requestStreamIdleTimeoutMs).withContext({
      method: call.method.codec.fullName,
      peer: this.peer,
    });
    this.conn.stopCall(call, error);
    this.conn.removeCall(call);
    this.sendError(call.id, error);
  }
}
