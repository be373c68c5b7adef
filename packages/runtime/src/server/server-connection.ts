import type { Message } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import type { FrameHandler, FrameLink } from "../conn/frame-link.js";
import { DRAINING_DETAIL } from "../draining.js";
import { ControlCode } from "../envelope/control-code.js";
import type { WireTarget } from "../envelope/envelope-wire.js";
import type { MessageId } from "../envelope/message-id.js";
import type { EnvelopeCodecs } from "../envelope/service-codecs.js";
import { Code, RpcError } from "../errors.js";
import { FrameError } from "../wire/frame-error.js";
import { CallContext } from "./handler-context.js";
import type { AnyHandler, ServerRequest } from "./interceptor.js";
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
  /** Largest frame, prefix included (for messages about refused frames). */
  readonly maxFrameBytes: number;
  /** Reports a response the server could not send (too large, not a valid message). */
  reportResponseError(error: RpcError, method: string, peer: string): void;
  /** Reports a problem with a connection: a protocol violation, an I/O error, a dropped frame. */
  reportConnectionError(error: RpcError, peer: string): void;
}

/** Stream items produced between two turns of the event loop. */
const STREAM_YIELD_EVERY = 1024;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === "object" && typeof (value as { then?: unknown }).then === "function";
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Serves calls on one link (an accepted socket, or memory): decodes
 * requests, runs handlers (through the interceptors, when the server has
 * any), sends responses with backpressure, and answers cancels, limits and
 * protocol violations.
 */
export class ServerConnection implements FrameHandler {
  private readonly calls = new Map<MessageId, ServerCall>();
  private draining = false;
  private drainWaiters: (() => void)[] = [];
  private readPaused = false;
  private sawFrame = false;
  private peerEnded = false;
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
      this.removeCall(call);
      this.stopCall(call, error);
      this.sendError(call.id, error.withContext({ method: call.method.codec.fullName }));
    }
    // The last frame, for message id 0 (no client call has it): every request run here has been
    // answered above; one the client has no answer for was not run, and may be sent elsewhere.
    if (this.state.codecs.error !== undefined) {
      this.sendError(0, new RpcError(Code.Unavailable, "server is shutting down; requests not answered on this connection were not run", [DRAINING_DETAIL]));
    }
    this.link.end(lingerMs);
  }

  /** Closes at once. */
  close(error: RpcError): void {
    this.link.close(error);
  }

  onFrame(body: Uint8Array): void {
    this.sawFrame = true;
    const inbound = this.state.codecs.request.decode(body);
    const id = inbound.id;
    const code = inbound.code;
    if (code === ControlCode.Cancel) {
      const call = this.calls.get(id);
      if (call !== undefined) {
        // The client gave up: stop the handler and echo the Cancel.
        this.removeCall(call);
        this.stopCall(call, new RpcError(Code.Cancelled, "call cancelled by the client", [], { method: call.method.codec.fullName, peer: this.peer }));
        this.sendControl(id, ControlCode.Cancel);
      }
      return;
    }
    if (code === ControlCode.End) return; // clients never end anything; ignored like the Rust server does
    if (this.calls.has(id)) {
      // Any answer would carry the live call's id and reach its caller as that call's outcome: drop the duplicate.
      this.state.reportConnectionError(
        new RpcError(Code.AlreadyExists, `message id ${id} is already in flight on this connection; the duplicate request was dropped`, [], { peer: this.peer }),
        this.peer,
      );
      return;
    }
    if (this.draining || this.peerEnded) {
      // Marked: this request did not run, and no later one on this connection will, so the client may send them elsewhere.
      this.sendError(id, new RpcError(Code.Unavailable, "server is shutting down", [DRAINING_DETAIL]));
      return;
    }
    const maxCalls = this.state.maxConcurrentCalls;
    if (this.calls.size >= maxCalls) {
      this.sendError(id, new RpcError(Code.ResourceExhausted, `too many concurrent calls on this connection (limit ${maxCalls}, maxConcurrentCallsPerConnection)`));
      return;
    }
    const method = inbound.carried === undefined ? undefined : this.state.routes.get(inbound.carried);
    if (method === undefined) {
      this.sendError(id, new RpcError(Code.Unimplemented, "the request carries no case of a method this server serves"));
      return;
    }
    // Invalid bytes throw here: a protocol violation that closes the connection.
    const request = inbound.read(method.codec.request) as Message;
    const handler = method.handler;
    if (handler === undefined) {
      this.sendError(id, new RpcError(Code.Unimplemented, `${method.codec.fullName} is not implemented`));
      return;
    }
    const call = new ServerCall(id, method, new CallContext(this.peer, method.codec.fullName, method.codec.desc, id));
    this.calls.set(id, call);
    if (method.chain !== undefined) {
      this.runIntercepted(call, request);
    } else if (method.codec.desc.methodKind === "unary") {
      this.runUnary(call, handler, request);
    } else {
      let items: AsyncIterable<unknown>;
      try {
        items = (handler as (r: Message, c: CallContext) => AsyncIterable<unknown>)(request, call.ctx);
      } catch (e) {
        this.fail(call, e);
        return;
      }
      void this.pump(call, items);
    }
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
    this.endIfIdle();
  }

  onClose(error: RpcError): void {
    const all = [...this.calls.values()];
    this.calls.clear();
    for (const call of all) this.stopCall(call, error);
    this.notifyDrained();
    this.onClosed(this, error);
  }

  private runUnary(call: ServerCall, handler: AnyHandler, request: Message): void {
    let result: unknown;
    try {
      result = (handler as (r: Message, c: CallContext) => unknown)(request, call.ctx);
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

  private runIntercepted(call: ServerCall, request: Message): void {
    const codec = call.method.codec;
    const ctx = call.ctx;
    const req = {
      kind: codec.desc.methodKind,
      service: codec.service,
      method: codec.desc,
      methodName: codec.fullName,
      peer: this.peer,
      get signal() {
        return ctx.signal;
      },
      deadline: undefined,
      contextValues: ctx.contextValues,
      ctx,
      message: request,
    } as ServerRequest;
    let result;
    try {
      result = (call.method.chain as NonNullable<ServedMethod["chain"]>)(req);
    } catch (e) {
      this.fail(call, e);
      return;
    }
    result.then(
      (res) => {
        if (res.kind === "unary") this.respond(call, res.message);
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
          this.sendControl(call.id, ControlCode.End);
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
    this.send(call.id, ControlCode.Normal, codec.response, create(codec.desc.output, value as never));
  }

  private fail(call: ServerCall, reason: unknown): void {
    if (call.done) return;
    this.removeCall(call);
    this.sendFailure(call, RpcError.from(reason));
  }

  /** Ends a failed call on the wire: its error, or a bare Cancel for `cancelled`. */
  private sendFailure(call: ServerCall, error: RpcError): void {
    if (error.code === Code.Cancelled) {
      // A handler that gives up with `cancelled` rejects the call with a bare Cancel, as a Rust server does.
      this.sendControl(call.id, ControlCode.Cancel);
      return;
    }
    this.sendError(call.id, error);
  }

  /** Writes a response envelope, unless the link has ended. Throws the link's RpcError for a frame over the limit. */
  private send(id: MessageId, code: ControlCode, target?: WireTarget, body?: Message): void {
    const link = this.link;
    if (link.ended) return;
    this.state.codecs.response.write(link, id, code, target, body);
    if (!this.readPaused && !link.writable && !link.ended) {
      // Inbound backpressure: read no more requests while the client does not read responses.
      this.readPaused = true;
      link.pauseReading();
      void link.whenWritable().then(() => {
        this.readPaused = false;
        link.resumeReading();
      });
    }
  }

  private sendControl(id: MessageId, code: ControlCode): void {
    this.send(id, code);
  }

  /** Sends `error` for `id`: the error case when the envelope has one, otherwise a Cancel. */
  private sendError(id: MessageId, error: RpcError): void {
    const e = this.state.codecs.error;
    if (e === undefined) {
      this.sendControl(id, ControlCode.Cancel);
      return;
    }
    try {
      this.send(id, ControlCode.Normal, e.target, e.codec.write(error));
    } catch {
      // An error message too large for the frame limit: a bare Cancel still ends the call.
      this.sendControl(id, ControlCode.Cancel);
    }
  }

  private notifyDrained(): void {
    if (this.calls.size === 0 && this.drainWaiters.length > 0) {
      const w = this.drainWaiters;
      this.drainWaiters = [];
      for (const f of w) f();
    }
  }

  private removeCall(call: ServerCall): void {
    call.done = true;
    if (this.calls.get(call.id) === call) this.calls.delete(call.id);
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

  /** Stops a running call: aborts its signal and returns its stream. */
  private stopCall(call: ServerCall, reason: RpcError): void {
    call.done = true;
    call.ctx.abort(reason);
    const it = call.iterator;
    if (it?.return !== undefined) it.return().catch(() => {});
  }
}
