import type { DescMessage, Message, MessageInitShape } from "@bufbuild/protobuf";
import type { FrameHandler, FrameLink } from "../conn/frame-link.js";
import { DRAINING_DETAIL } from "../draining.js";
import { ControlCode } from "../envelope/control-code.js";
import type { InboundEnvelope, WireTarget } from "../envelope/envelope-wire.js";
import type { MessageId } from "../envelope/message-id.js";
import type { EnvelopeCodecs } from "../envelope/service-codecs.js";
import { Code, RpcError } from "../errors.js";
import { requestMetadataError, type MetadataLimits } from "../metadata.js";
import type { ServiceDefinition } from "../service/service-definition.js";
import { FrameError } from "../wire/frame-error.js";
import { startTimeout } from "../util/long-timeout.js";
import { CallContext } from "./handler-context.js";
import type { HandlerContext } from "./handler-types.js";
import { createServerRequest, type AnyHandler, type ServerRequest, type ServerResponse } from "./interceptor.js";
import { endWithoutStreamError, RequestStream, requestStreamIdleError, type RequestStreamHost } from "./request-stream.js";
import type { ServedMethod } from "./served-method.js";
import { ServerCall } from "./server-call.js";

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
}

/** How often a server whose client sent FIN checks, while calls run, that the client is still there. */
const PEER_PROBE_MS = 250;
/** The id the probe's Cancel carries (the largest uint64; a smaller one when that is in flight). */
const PROBE_ID = 2n ** 64n - 1n;

/** Stream items produced between two turns of the event loop. */
const STREAM_YIELD_EVERY = 1024;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === "object" && typeof (value as { then?: unknown }).then === "function";
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** True for methods whose requests are a stream (client and bidi streaming). */
function takesRequestStream(method: ServedMethod): boolean {
  const kind = method.codec.desc.methodKind;
  return kind === "client_streaming" || kind === "bidi_streaming";
}

/**
 * Serves calls on one link (an accepted socket, or memory): decodes
 * requests, runs handlers (through the interceptors, when the server has
 * any), sends responses with backpressure, and answers cancels, limits and
 * protocol violations.
 */
export class ServerConnection implements FrameHandler, RequestStreamHost {
  private readonly calls = new Map<MessageId, ServerCall>();
  /**
   * Ids of request streams that ended on the server's side (answered,
   * failed, refused) before the client ended its side: their frames still on
   * the way are dropped until the client's End or Cancel. Bounded by the
   * concurrency limit, oldest forgotten first.
   */
  private readonly closing = new Set<MessageId>();
  private readPauses = 0;
  private resumedAt: number | undefined = Date.now();
  private draining = false;
  private drainWaiters: (() => void)[] = [];
  private readPaused = false;
  private sawFrame = false;
  private peerEnded = false;
  private peerProbe: ReturnType<typeof setInterval> | undefined;
  private lastCallEnded = Date.now();

  /**
   * @param link the link to the client; started here.
   * @param state what the server's connections share.
   * @param onClosed called once when the connection has closed.
   */
  constructor(
    readonly link: FrameLink,
    private readonly state: ServingState,
    private readonly onClosed: (conn: ServerConnection, error: RpcError) => void,
  ) {
    link.start(this);
  }

  /** The client's address. */
  get peer(): string {
    return this.link.peer;
  }

  /** Calls running. */
  get activeCalls(): number {
    return this.calls.size;
  }

  /** True until the first complete frame arrives. */
  get awaitingFirstFrame(): boolean {
    return !this.sawFrame;
  }

  /** When the last call ended (or the connection opened). */
  get lastCallEndedAt(): number {
    return this.lastCallEnded;
  }

  /** Rejects new calls with `unavailable` from now on; resolves when no call is left running. */
  drain(): Promise<void> {
    this.draining = true;
    if (this.calls.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.drainWaiters.push(resolve));
  }

  /**
   * Ends every running call with `error` (sent to the client), then ends the
   * link: what is queued is written, nothing after it, and the link closes
   * within `lingerMs` even if the client does not read.
   */
  shutdown(error: RpcError, lingerMs: number): void {
    this.draining = true;
    for (const call of [...this.calls.values()]) {
      this.stopCall(call, error);
      this.removeCall(call);
      this.sendError(call.id, error.withContext({ method: call.method.codec.fullName }));
    }
    // The last frame, for message id 0 (no client call has it): every request run here has been
    // answered above; one the client has no answer for was not run, and may be sent elsewhere.
    if (this.state.codecs.error !== undefined) {
      this.sendError(
        0,
        new RpcError(Code.Unavailable, "server is shutting down; requests not answered on this connection were not run", [DRAINING_DETAIL]),
      );
    }
    this.link.end(lingerMs);
  }

  /** Closes at once. */
  close(error: RpcError): void {
    this.link.close(error);
  }

  onFrame(body: Uint8Array): void {
    this.sawFrame = true;
    const inbound = this.state.codecs.request.decode(body, this.state.metadataLimits);
    const id = inbound.id;
    const code = inbound.code;
    if (code === ControlCode.Cancel) {
      const call = this.calls.get(id);
      if (call !== undefined) {
        // The client gave up: stop the handler and echo the Cancel. A Cancel closes the client's side of a request stream too.
        call.inputOpen = false;
        this.stopCall(
          call,
          new RpcError(Code.Cancelled, "call cancelled by the client", [], { method: call.method.codec.fullName, peer: this.peer }),
        );
        this.removeCall(call);
        this.sendControl(id, ControlCode.Cancel);
      } else if (this.closing.size > 0) {
        this.closing.delete(id);
      }
      return;
    }
    const live = this.calls.get(id);
    if (live?.inputOpen) {
      this.onRequestFrame(live, code, inbound);
      return;
    }
    if (this.closing.size > 0 && this.closing.has(id)) {
      // A request stream the server has finished with: drop the rest of it, until its End.
      if (code === ControlCode.End) this.closing.delete(id);
      return;
    }
    const method = inbound.carried === undefined ? undefined : this.state.routes.get(inbound.carried);
    const streaming = method !== undefined && takesRequestStream(method);
    if (code === ControlCode.End && (!streaming || live !== undefined)) {
      // Only an End naming a request-streaming method opens a call (one with no messages). One naming another method is
      // refused; one naming none, or a call still running, is ignored, as the Rust server does.
      if (method !== undefined && live === undefined)
        this.sendError(id, endWithoutStreamError(method.codec.fullName, method.codec.desc.methodKind));
      return;
    }
    if (live !== undefined) {
      // Any answer would carry the live call's id and reach its caller as that call's outcome: drop the duplicate.
      this.state.reportConnectionError(
        new RpcError(
          Code.AlreadyExists,
          `message id ${id} is already in flight on this connection; the duplicate request was dropped`,
          [],
          { peer: this.peer },
        ),
        this.peer,
      );
      return;
    }
    if (this.draining || this.peerEnded) {
      // Marked: this request did not run, and no later one on this connection will, so the client may send them elsewhere.
      this.refuse(
        id,
        streaming && code === ControlCode.Normal,
        new RpcError(Code.Unavailable, "server is shutting down", [DRAINING_DETAIL]),
      );
      return;
    }
    const maxCalls = this.state.maxConcurrentCalls;
    if (this.calls.size >= maxCalls) {
      this.refuse(
        id,
        streaming && code === ControlCode.Normal,
        new RpcError(
          Code.ResourceExhausted,
          `too many concurrent calls on this connection (limit ${maxCalls}, maxConcurrentCallsPerConnection)`,
        ),
      );
      return;
    }
    const serverCalls = this.state.serverCalls;
    if (serverCalls.running >= serverCalls.max) {
      this.refuse(
        id,
        streaming && code === ControlCode.Normal,
        new RpcError(Code.ResourceExhausted, `too many concurrent calls on this server (limit ${serverCalls.max}, maxConcurrentCalls)`),
      );
      return;
    }
    if (inbound.metadataOverLimit !== undefined) {
      this.refuse(id, streaming && code === ControlCode.Normal, requestMetadataError(inbound.metadataOverLimit));
      return;
    }
    if (method === undefined) {
      this.sendError(id, new RpcError(Code.Unimplemented, "the request carries no case of a method this server serves"));
      return;
    }
    // Invalid bytes throw here: a protocol violation that closes the connection.
    const request = code === ControlCode.Normal ? (inbound.read(method.codec.request) as Message) : undefined;
    const handler = method.handler;
    if (handler === undefined) {
      this.refuse(
        id,
        streaming && code === ControlCode.Normal,
        new RpcError(Code.Unimplemented, `${method.codec.fullName} is not implemented`),
      );
      return;
    }
    const deadlineMs = inbound.deadlineMs;
    const ctx = new CallContext(
      this.peer,
      method.codec.fullName,
      method.codec.desc,
      id,
      inbound.metadata,
      deadlineMs === undefined ? undefined : Date.now() + deadlineMs,
    );
    const call = new ServerCall(id, method, ctx);
    this.calls.set(id, call);
    serverCalls.running++;
    if (deadlineMs !== undefined) call.deadlineTimer = startTimeout(() => this.expire(call, deadlineMs), deadlineMs, true);
    let arg: Message | AsyncIterable<Message> = request as Message;
    if (streaming) {
      const input = new RequestStream(this, this.state.requestStreamBufferMessages, this.state.requestStreamIdleTimeoutMs, () =>
        this.expireIdle(call),
      );
      call.input = input;
      if (request !== undefined) {
        call.inputOpen = true;
        input.push(request);
      } else {
        input.end();
      }
      arg = input;
    }
    const kind = method.codec.desc.methodKind;
    if (method.chain !== undefined) {
      this.runIntercepted(call, arg);
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

  /**
   * Answers a request the server does not run. When it opened a request
   * stream (`streamOpen`), the stream's later frames are dropped, not
   * refused one by one (and never open a call mid-stream).
   */
  private refuse(id: MessageId, streamOpen: boolean, error: RpcError): void {
    if (streamOpen) this.rememberClosing(id);
    this.sendError(id, error);
  }

  /** A further frame of a request stream whose client side is open: a message, or End. */
  private onRequestFrame(call: ServerCall, code: ControlCode, inbound: InboundEnvelope): void {
    const input = call.input as RequestStream;
    if (code === ControlCode.End) {
      call.inputOpen = false;
      input.end();
      return;
    }
    const target = call.method.codec.request;
    if (inbound.carried !== target) {
      // Every frame of a request stream names its method: another case is the client's error, for this call only.
      const error = new RpcError(
        Code.InvalidArgument,
        `a request frame for message id ${call.id} (${call.method.codec.fullName}) carries ${inbound.carried === undefined ? "no method's case" : `the case "${inbound.carried.path.path}" of another method`}; every frame of a request stream carries its method's case`,
        [],
        { method: call.method.codec.fullName, peer: this.peer },
      );
      this.state.reportConnectionError(error, this.peer);
      this.stopCall(call, error);
      this.removeCall(call);
      this.sendFailure(call, error);
      return;
    }
    // Invalid bytes throw here: a protocol violation that closes the connection.
    input.push(inbound.read(target) as Message);
  }

  /** A request stream's handler waited longer than requestStreamIdleTimeoutMs for a message: the call ends with deadline_exceeded. */
  private expireIdle(call: ServerCall): void {
    if (call.done) return;
    const error = requestStreamIdleError(this.state.requestStreamIdleTimeoutMs).withContext({
      method: call.method.codec.fullName,
      peer: this.peer,
    });
    this.stopCall(call, error);
    this.removeCall(call);
    this.sendError(call.id, error);
  }

  /** Remembers the id of a request stream the server is done with while the client's side is open. */
  private rememberClosing(id: MessageId): void {
    const closing = this.closing;
    if (closing.size >= this.state.maxConcurrentCalls) {
      const oldest = closing.values().next();
      if (oldest.done !== true) closing.delete(oldest.value);
    }
    closing.add(id);
  }

  /** Stops reading the connection (counted); see RequestStreamHost. */
  pauseReading(): void {
    if (this.readPauses++ === 0) this.resumedAt = undefined;
    this.link.pauseReading();
  }

  /** Undoes one {@link pauseReading}. */
  resumeReading(): void {
    if (this.readPauses === 0) return;
    if (--this.readPauses === 0) this.resumedAt = Date.now();
    this.link.resumeReading();
  }

  /** When the connection last started reading again; undefined while it is paused. */
  get readingSince(): number | undefined {
    return this.resumedAt;
  }

  onProtocolError(error: RpcError, bodyHead: Uint8Array): void {
    // A request too large to receive: say so to the call it belonged to, where its first bytes name it.
    const cause = error.cause;
    if (!(cause instanceof FrameError) || cause.kind !== "frame-too-large") return;
    const id = this.state.codecs.request.peekId(bodyHead);
    if (id === undefined || id === 0 || this.calls.has(id)) return;
    this.sendError(
      id,
      new RpcError(
        Code.ResourceExhausted,
        `request of ${cause.frameBytes ?? "?"} bytes exceeds the server's frame limit of ${this.state.maxFrameBytes} bytes (maxFrameBytes); connection closed`,
      ),
    );
  }

  onPeerEnd(): void {
    // The client sent its last request (a half-close): answer what it asked, then close.
    this.peerEnded = true;
    // A request stream the client left open can get no more messages.
    for (const call of this.calls.values()) {
      if (!call.inputOpen) continue;
      call.inputOpen = false;
      (call.input as RequestStream).fail(
        new RpcError(Code.Unavailable, "the client closed its side of the connection before ending the request stream", [], {
          method: call.method.codec.fullName,
          peer: this.peer,
        }),
      );
    }
    this.endIfIdle();
    if (this.calls.size > 0 && !this.link.ended) this.startPeerProbe();
  }

  /**
   * A FIN looks the same whether the client only half-closed (and waits for
   * its answers) or went away entirely (a process that exited or was
   * killed). While calls run, write a Cancel for an id not in flight every
   * PEER_PROBE_MS (clients ignore frames for ids they do not have): to a
   * client that is gone, the write fails, the connection closes and the
   * handlers stop, instead of running to the end for nobody.
   */
  private startPeerProbe(): void {
    if (this.peerProbe !== undefined) return;
    this.peerProbe = setInterval(() => {
      if (this.link.ended || this.calls.size === 0) {
        clearInterval(this.peerProbe);
        this.peerProbe = undefined;
        return;
      }
      let id: MessageId = PROBE_ID;
      while (this.calls.has(id)) id = (id as bigint) - 1n;
      this.state.codecs.response.write(this.link, id, ControlCode.Cancel);
    }, PEER_PROBE_MS);
    (this.peerProbe as { unref?: () => void }).unref?.();
  }

  onClose(error: RpcError): void {
    clearInterval(this.peerProbe);
    this.peerProbe = undefined;
    const all = [...this.calls.values()];
    this.calls.clear();
    this.state.serverCalls.running -= all.length;
    for (const call of all) this.stopCall(call, error);
    this.notifyDrained();
    this.onClosed(this, error);
  }

  private runUnary(call: ServerCall, handler: AnyHandler, request: Message | AsyncIterable<Message>): void {
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

  private runIntercepted(call: ServerCall, request: Message | AsyncIterable<Message>): void {
    const codec = call.method.codec;
    // Interceptors are installed for protobuf services only (server.ts refuses them for other encodings).
    const req = createServerRequest(
      codec.desc.methodKind as ServerRequest["kind"],
      codec.service as ServiceDefinition,
      codec.desc as ServerRequest["method"],
      codec.fullName,
      this.peer,
      request,
      call.ctx as unknown as HandlerContext,
    );
    let result: Promise<ServerResponse>;
    try {
      result = (call.method.chain as NonNullable<ServedMethod["chain"]>)(req);
    } catch (e) {
      this.fail(call, e);
      return;
    }
    result.then(
      (res) => {
        if (res.kind === "unary" || res.kind === "client_streaming") this.respond(call, res.message);
        else void this.pump(call, res.message);
      },
      (e: unknown) => this.fail(call, e),
    );
  }

  private respond(call: ServerCall, value: unknown): void {
    if (call.done) return;
    this.removeCall(call);
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
    this.removeCall(call);
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
          this.removeCall(call);
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
    this.send(call.id, ControlCode.Normal, codec.response, value as MessageInitShape<DescMessage>, trailers);
  }

  private fail(call: ServerCall, reason: unknown): void {
    if (call.done) return;
    this.removeCall(call);
    if (call.method.reportFailures === true) {
      // As reportHandlerErrors does for the services that run through interceptors.
      const error = RpcError.from(reason);
      if (error.code !== Code.Cancelled) this.state.reportResponseError(error, call.method.codec.fullName, this.peer);
    }
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

  /** Ends a failed call on the wire: its error, or a bare Cancel for `cancelled`. */
  private sendFailure(call: ServerCall, error: RpcError): void {
    const trailers = call.ctx.trailersIfAny;
    if (error.code === Code.Cancelled) {
      // A handler that gives up with `cancelled` rejects the call with a bare Cancel, as a Rust server does.
      this.sendControl(call.id, ControlCode.Cancel, trailers);
      return;
    }
    this.sendError(call.id, error, trailers);
  }

  /** Writes a response envelope, unless the link has ended. Throws the link's RpcError for a frame over the limit. */
  private send(
    id: MessageId,
    code: ControlCode,
    target?: WireTarget,
    body?: MessageInitShape<DescMessage>,
    trailers?: ReadonlyMap<string, string>,
  ): void {
    const link = this.link;
    if (link.ended) return;
    this.state.codecs.response.write(link, id, code, target, body, trailers === undefined ? undefined : { metadata: trailers });
    if (!this.readPaused && !link.writable && !link.ended) {
      // Inbound backpressure: read no more requests while the client does not read responses.
      this.readPaused = true;
      this.pauseReading();
      void link.whenWritable().then(() => {
        this.readPaused = false;
        this.resumeReading();
      });
    }
  }

  private sendControl(id: MessageId, code: ControlCode, trailers?: ReadonlyMap<string, string>): void {
    this.send(id, code, undefined, undefined, trailers);
  }

  /** Sends `error` for `id`: the error case when the envelope has one, otherwise a Cancel. */
  private sendError(id: MessageId, error: RpcError, trailers?: ReadonlyMap<string, string>): void {
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

  private notifyDrained(): void {
    if (this.calls.size === 0 && this.drainWaiters.length > 0) {
      const w = this.drainWaiters;
      this.drainWaiters = [];
      for (const f of w) f();
    }
  }

  /** The deadline the client sent has passed: stop the handler and answer `deadline_exceeded`. */
  private expire(call: ServerCall, deadlineMs: number): void {
    if (call.done) return;
    const error = new RpcError(Code.DeadlineExceeded, `the call's deadline of ${deadlineMs} ms passed`, [], {
      method: call.method.codec.fullName,
      peer: this.peer,
    });
    this.removeCall(call);
    this.stopCall(call, error);
    this.sendFailure(call, error);
  }

  private removeCall(call: ServerCall): void {
    call.done = true;
    call.deadlineTimer?.cancel();
    if (this.calls.get(call.id) === call) {
      this.calls.delete(call.id);
      this.state.serverCalls.running--;
    }
    const input = call.input;
    if (input !== undefined) {
      input.release();
      if (call.inputOpen) {
        // The server is done before the client's side ended: drop what is still on its way.
        call.inputOpen = false;
        this.rememberClosing(call.id);
      }
    }
    if (this.calls.size === 0) {
      this.lastCallEnded = Date.now();
      if (this.draining) this.notifyDrained();
      // The caller sends the call's last frame right after this; end after it.
      if (this.peerEnded) queueMicrotask(this.endIfIdle);
    }
  }

  private readonly endIfIdle = (): void => {
    if (this.calls.size === 0 && !this.link.ended) this.link.end(30_000);
  };

  /**
   * Stops a running call: aborts its signal, fails its request stream and
   * returns its response stream. Called before {@link removeCall}, which
   * would otherwise end the request stream normally.
   */
  private stopCall(call: ServerCall, reason: RpcError): void {
    call.done = true;
    call.input?.fail(reason);
    call.ctx.abort(reason);
    const it = call.iterator;
    if (it?.return !== undefined) it.return().catch(() => {});
  }
}
