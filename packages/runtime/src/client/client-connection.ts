import type { FrameHandler, FrameLink } from "../conn/frame-link.js";
import { interceptCalls, type Interceptor } from "../call/interceptor.js";
import type { AnyRequest, StreamRequest, StreamResponse, UnaryRequest, UnaryResponse } from "../call/request.js";
import type { CallTarget } from "../call/transport.js";
import { codecsOf, envelopeBindingClash } from "../encoding/codecs.js";
import { ControlCode } from "../encoding/control-code.js";
import type { EnvelopeContext } from "../encoding/envelope-wire.js";
import type { AnyServiceDefinition, RpcMethod } from "../encoding/service.js";
import type { EnvelopeCodecs, MethodCodec } from "../encoding/encoding.js";
import { carriesDraining } from "../draining.js";
import { Code, RpcError, type RpcErrorContext } from "../errors.js";
import { readOneMessage } from "../util/one-message.js";
import { BidiStreamCall } from "./bidi-stream-call.js";
import type { CallHost, ClientCall } from "./client-call.js";
import { ClientStreamCall } from "./client-stream-call.js";
import type { ConnectionTransport } from "./connect-options.js";
import { markNotRun } from "./not-run.js";
import { ServerStreamCall } from "./server-stream-call.js";
import { UnaryCall } from "./unary-call.js";

/** Options of {@link ClientConnection}. */
export interface ClientConnectionOptions {
  /** Per-stream buffered responses above which reading pauses. */
  streamBufferMessages: number;
  /** Interceptors around every call, outermost first. */
  interceptors?: readonly Interceptor[];
  /**
   * Called once when the server says it is draining (it refused a call with
   * the `protosocket.v1.Draining` detail): it runs no new call on this
   * connection, so new calls belong elsewhere.
   */
  onServerDraining?: () => void;
}

/** The init object of an empty message. */
const EMPTY_INIT = {};

/** The largest id before ids wrap around to 1. */
const MAX_ID = Number.MAX_SAFE_INTEGER;
/** How often a connection paused for a slow stream consumer checks that its server is alive. */
const PAUSED_PROBE_MS = 400;

/**
 * The client side of one connection, and a transport over it: assigns
 * message ids, sends requests, routes each response frame to its call, and
 * fails every call in flight when the link closes. Works over any
 * {@link FrameLink} (a socket, or memory).
 */
export class ClientConnection implements ConnectionTransport, FrameHandler, CallHost {
  readonly closed: Promise<RpcError>;
  private readonly link: FrameLink;
  private readonly streamBufferMessages: number;
  private readonly calls = new Map<number, ClientCall>();
  /** Request-streaming calls waiting for their first message: no id, nothing sent yet. */
  private readonly starting = new Set<ClientCall>();
  private resolveClosed!: (error: RpcError) => void;
  private lastId = 0;
  private closeError: RpcError | undefined;
  /** The first service used here: its codecs read the id and code of every response. */
  private primary: EnvelopeCodecs | undefined;
  private primaryDef: AnyServiceDefinition | undefined;
  /** Services whose binding was checked against the primary's. */
  private readonly checked = new WeakSet<AnyServiceDefinition>();
  /** Streams whose readers fell behind; while any does, the connection does not read. */
  private pausedStreams = 0;
  private probe: ReturnType<typeof setInterval> | undefined;
  /** The id of the first call a draining server refused: it runs no call from there on. */
  private drainingFrom = Number.POSITIVE_INFINITY;
  private readonly onServerDraining: (() => void) | undefined;
  /** The calls through the connection's interceptors; undefined when it has none. */
  private readonly chain: CallTarget | undefined;

  /**
   * @param link the link to the server; started here.
   * @param options the stream buffer size and interceptors.
   */
  constructor(link: FrameLink, options: ClientConnectionOptions) {
    this.link = link;
    this.streamBufferMessages = options.streamBufferMessages;
    this.onServerDraining = options.onServerDraining;
    this.closed = new Promise<RpcError>((resolve) => (this.resolveClosed = resolve));
    const own: CallTarget = { unary: (req) => this.unaryCall(req), stream: (req) => this.streamCall(req) };
    const chain = interceptCalls(own, options.interceptors ?? []);
    this.chain = chain === own ? undefined : chain;
    link.start(this);
  }

  /** The server's address. */
  get target(): string {
    return this.link.peer;
  }

  /** The server's address. */
  get peer(): string {
    return this.link.peer;
  }

  /** Calls in flight (request streams waiting for their first message included). */
  get pendingCalls(): number {
    return this.calls.size + this.starting.size;
  }

  /** True while the link keeps up (request streams are pulled only then). */
  get writable(): boolean {
    return this.link.writable;
  }

  /** Resolves when the link is writable again, or closed. */
  whenWritable(): Promise<void> {
    return this.link.whenWritable();
  }

  /** True once the connection has closed. */
  get isClosed(): boolean {
    return this.closeError !== undefined;
  }

  /** True once the server has said it is draining: it runs no new call here. */
  get serverDraining(): boolean {
    return this.drainingFrom !== Number.POSITIVE_INFINITY;
  }

  close(error?: RpcError): void {
    this.link.close(error ?? new RpcError(Code.Cancelled, "transport closed by the client", [], { peer: this.link.peer }));
  }

  unary(request: UnaryRequest): Promise<UnaryResponse> {
    const chain = this.chain;
    return chain === undefined ? this.unaryCall(request) : chain.unary(request);
  }

  stream(request: StreamRequest): Promise<StreamResponse> {
    const chain = this.chain;
    return chain === undefined ? this.streamCall(request) : chain.stream(request);
  }

  /** A unary call on this connection, past the interceptors. */
  private unaryCall(req: UnaryRequest): Promise<UnaryResponse> {
    let codecs: EnvelopeCodecs;
    let mc: MethodCodec;
    try {
      codecs = this.codecsFor(req.service);
      mc = this.methodOf(codecs, req, "unary");
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<UnaryResponse>((resolve, reject) => {
      const call = new UnaryCall(this, codecs, mc, req, resolve, reject);
      const early = this.open(call, req.message);
      if (early !== undefined) reject(early);
    });
  }

  /** A streaming call on this connection, past the interceptors: the method's kind says which. */
  private streamCall(req: StreamRequest): Promise<StreamResponse> {
    let codecs: EnvelopeCodecs;
    let mc: MethodCodec;
    const kind = req.method.methodKind;
    try {
      if (kind === "unary") throw this.kindError(req, "unary");
      codecs = this.codecsFor(req.service);
      mc = this.methodOf(codecs, req, kind);
    } catch (e) {
      return Promise.reject(e);
    }
    const size = this.streamBufferMessages;
    switch (kind) {
      case "server_streaming": {
        const start = (input: unknown): StreamResponse => {
          const call = new ServerStreamCall(this, codecs, mc, req, size);
          const early = this.open(call, input);
          if (early !== undefined) throw early;
          return call.response;
        };
        try {
          const input = readOneMessage(req.message, (what) => this.oneRequestError(mc, what));
          return input instanceof Promise ? input.then(start) : Promise.resolve(start(input));
        } catch (e) {
          return Promise.reject(e);
        }
      }
      case "client_streaming":
        return new Promise<StreamResponse>((resolve, reject) => {
          const call = new ClientStreamCall(this, codecs, mc, req, resolve, reject);
          const early = this.reserve(call);
          if (early !== undefined) reject(early);
          else call.start();
        });
      default: {
        const call = new BidiStreamCall(this, codecs, mc, req, size);
        const early = this.reserve(call);
        if (early !== undefined) return Promise.reject(early);
        call.start();
        return Promise.resolve(call.response);
      }
    }
  }

  /** The error of a server-streaming call whose request stream did not hold exactly one message. */
  private oneRequestError(method: MethodCodec, what: "none" | "more"): RpcError {
    return new RpcError(
      Code.InvalidArgument,
      `the request stream of a server-streaming call held ${what === "none" ? "no message" : "more than one message"}`,
      [],
      this.errorContext(method),
    );
  }

  /** The error of a method called with the other verb. */
  private kindError(req: AnyRequest, kind: RpcMethod["methodKind"]): RpcError {
    return new RpcError(
      Code.InvalidArgument,
      `${req.methodName} is ${req.method.methodKind}; call it with ${kind === "unary" ? "stream()" : "unary()"}`,
      [],
      { method: req.methodName, peer: this.link.peer },
    );
  }

  /**
   * The codecs of `def`, checking once that it binds the envelopes as the
   * connection's first service does. The first service also chooses how the
   * link frames (its encoding's framing).
   */
  private codecsFor(def: AnyServiceDefinition): EnvelopeCodecs {
    const codecs = codecsOf(def);
    if (this.primary === undefined) {
      this.link.setFraming(codecs.framing);
      this.primary = codecs;
      this.primaryDef = def;
      this.checked.add(def);
    } else if (!this.checked.has(def)) {
      const clash = envelopeBindingClash(this.primaryDef as AnyServiceDefinition, def);
      if (clash !== undefined)
        throw new RpcError(Code.InvalidArgument, `${clash}; connect a separate transport`, [], { peer: this.link.peer });
      this.checked.add(def);
    }
    return codecs;
  }

  /** The request's method on this connection, checked to be of `kind`. Throws `invalid_argument`. */
  private methodOf(codecs: EnvelopeCodecs, req: AnyRequest, kind: RpcMethod["methodKind"]): MethodCodec {
    const method = req.method;
    const mc = codecs.method(method);
    if (mc === undefined) {
      throw new RpcError(
        Code.InvalidArgument,
        `method ${method.parent.typeName}/${method.name} is not a method of ${req.service.service.typeName}`,
        [],
        { peer: this.link.peer },
      );
    }
    if (method.methodKind !== kind) throw this.kindError(req, kind);
    return mc;
  }

  /**
   * Sends a call's first frame and registers it: the request (Normal), or
   * for a request stream its first message (Normal) or End when it has none.
   * Returns the error instead when the call cannot start (cancelled already,
   * no time left, the connection closed, the request too large or not
   * encodable); nothing is sent then.
   */
  open(call: ClientCall, input: unknown, code: ControlCode = ControlCode.Normal): RpcError | undefined {
    const request = call.request;
    const early = this.startError(call);
    if (early !== undefined) return early;
    let context: EnvelopeContext | undefined;
    const deadline = request.deadline;
    const metadata = request.metadata;
    if (deadline !== undefined || metadata.size > 0) {
      // What is left of the deadline when the first frame leaves: a request stream whose first message came late sends less.
      let deadlineMs: number | undefined;
      if (deadline !== undefined) {
        deadlineMs = deadline - Date.now();
        if (deadlineMs <= 0) return this.lateError(call);
      }
      context = { metadata: metadata.size > 0 ? metadata : undefined, deadlineMs };
    }
    this.starting.delete(call);
    const id = this.nextId();
    const error = this.write(call, id, code, input, context);
    if (error !== undefined) return error;
    call.id = id;
    call.seq = this.link.framesSent;
    this.calls.set(id, call);
    // A request stream listens from reserve() on.
    if (!this.isRequestStream(call)) call.listen();
    return undefined;
  }

  /** Registers a request-streaming call before its first frame (see CallHost.reserve). */
  reserve(call: ClientCall): RpcError | undefined {
    const early = this.startError(call);
    if (early !== undefined) return early;
    this.starting.add(call);
    call.listen();
    return undefined;
  }

  /** Sends a further frame of an open request-streaming call (see CallHost.send). */
  send(call: ClientCall, code: ControlCode, input?: unknown): RpcError | undefined {
    if (this.closeError !== undefined) {
      return new RpcError(Code.Unavailable, `connection is closed: ${this.closeError.rawMessage}`, [], this.errorContext(call.method));
    }
    return this.write(call, call.id, code, input);
  }

  /** Forgets a call the client gave up on and tells the server (if the call reached it). */
  cancel(call: ClientCall): void {
    if (this.starting.delete(call)) return;
    if (this.calls.get(call.id) !== call) return;
    this.calls.delete(call.id);
    if (!this.link.ended) this.write(call, call.id, ControlCode.Cancel, undefined);
  }

  private isRequestStream(call: ClientCall): boolean {
    const kind = call.method.desc.methodKind;
    return kind === "client_streaming" || kind === "bidi_streaming";
  }

  /** Why a call cannot start, or undefined: its signal aborted, its deadline passed, the connection closed. */
  private startError(call: ClientCall): RpcError | undefined {
    const request = call.request;
    if (request.signal.aborted) return this.abortError(call.method, request.signal.reason);
    if (request.deadline !== undefined && request.deadline <= Date.now()) return this.lateError(call);
    if (this.closeError !== undefined) {
      return markNotRun(
        new RpcError(Code.Unavailable, `connection is closed: ${this.closeError.rawMessage}`, [], this.errorContext(call.method)),
      );
    }
    return undefined;
  }

  /** The error of a call whose deadline passed before its first frame left. */
  private lateError(call: ClientCall): RpcError {
    return new RpcError(
      Code.DeadlineExceeded,
      "the call's deadline passed before its request was sent",
      [],
      this.errorContext(call.method),
    );
  }

  /**
   * Writes one request frame of `call` with `id`. Normal frames carry
   * `input`; End and Cancel frames of a request stream carry the method's
   * case with an empty message (so every frame names its method), those of
   * other calls no case. Returns the error when it cannot be written.
   */
  private write(call: ClientCall, id: number, code: ControlCode, input: unknown, context?: EnvelopeContext): RpcError | undefined {
    const method = call.method;
    // A Normal frame carries the request as given (a message or its init object: the codec writes it
    // as create() would make it, without making it); End and Cancel of a request stream an empty one.
    let message: unknown;
    if (code === ControlCode.Normal) message = input;
    else if (this.isRequestStream(call)) message = EMPTY_INIT;
    try {
      if (message === undefined) call.codecs.request.write(this.link, id, code, undefined, undefined, context);
      else call.codecs.request.write(this.link, id, code, method.request, message, context);
    } catch (e) {
      if (e instanceof RpcError) {
        const prefix = e.code === Code.ResourceExhausted ? "request not sent: " : "";
        const error = new RpcError(e.code, `${prefix}${e.rawMessage}`, e.details, { ...this.errorContext(method), cause: e });
        // Nothing was queued: a link that has ended or closed refuses the frame.
        return e.code === Code.Unavailable ? markNotRun(error) : error;
      }
      return new RpcError(Code.InvalidArgument, `cannot encode request: ${e instanceof Error ? e.message : String(e)}`, [], {
        ...this.errorContext(method),
        cause: e,
      });
    }
    return undefined;
  }

  /**
   * Stops reading for a stream whose reader fell behind. A socket that is
   * not read never reports the server's FIN or RST, so while paused the
   * client writes a Cancel for id 0 (an id it never assigns; servers ignore
   * Cancels for unknown ids) every PAUSED_PROBE_MS: against a dead server
   * the write fails, the connection closes and every call fails promptly.
   */
  pauseForStream(): void {
    if (this.pausedStreams++ > 0) return;
    this.link.pauseReading();
    const primary = this.primary as EnvelopeCodecs;
    this.probe = setInterval(() => {
      if (!this.link.ended) primary.request.write(this.link, 0, ControlCode.Cancel);
    }, PAUSED_PROBE_MS);
    (this.probe as { unref?: () => void }).unref?.();
  }

  /** Undoes one {@link pauseForStream}. */
  resumeForStream(): void {
    if (this.pausedStreams === 0 || --this.pausedStreams > 0) return;
    clearInterval(this.probe);
    this.probe = undefined;
    this.link.resumeReading();
  }

  /** The method and peer, for errors. */
  errorContext(method: MethodCodec): { method: string; peer: string } {
    return { method: method.fullName, peer: this.link.peer };
  }

  /**
   * The error of a call whose signal aborted with `reason`: an RpcError
   * reason as it is (the deadline's is `deadline_exceeded`), a TimeoutError
   * (`AbortSignal.timeout()`) as `deadline_exceeded`, anything else
   * `cancelled`.
   */
  abortError(method: MethodCodec, reason: unknown): RpcError {
    const context = this.errorContext(method);
    if (reason instanceof RpcError) return reason.withContext(context);
    if (reason instanceof Error && reason.name === "TimeoutError") {
      return new RpcError(Code.DeadlineExceeded, `call timed out: ${reason.message}`, [], { ...context, cause: reason });
    }
    return new RpcError(Code.Cancelled, "call cancelled by the client", [], { ...context, cause: reason });
  }

  onFrame(body: Uint8Array): void {
    const primary = this.primary;
    if (primary === undefined) throw new Error("frame received before any call was made");
    let inbound = primary.response.decode(body);
    const id = inbound.id;
    if (typeof id === "bigint") return; // never assigned by this client
    const call = this.calls.get(id);
    if (call === undefined) {
      // Late (after a client cancel) or unknown: ignored. Id 0 (never a call's) may carry a server's last word.
      if (id === 0) this.closingNotice(primary, inbound);
      return;
    }
    const codecs = call.codecs;
    if (codecs !== primary) inbound = codecs.response.decode(body);
    const code = inbound.code;
    // Trailers come with the call's final frame: the single response (unary, client streaming), End, the error, or Cancel.
    const trailers = inbound.metadata;
    if (code === ControlCode.Normal) {
      const value = inbound.read(call.method.response);
      if (value !== undefined) {
        const kind = call.method.desc.methodKind;
        const single = kind === "unary" || kind === "client_streaming";
        if (single) this.calls.delete(id);
        call.deliver(value, single ? trailers : undefined);
        return;
      }
      this.calls.delete(id);
      const error = codecs.error;
      const errorValue = error !== undefined && inbound.carried === error.target ? inbound.read(error.target) : undefined;
      if (error !== undefined && errorValue !== undefined) {
        const err = error.codec.read(errorValue as object);
        const failure = new RpcError(err.code, err.message, err.details, this.context(call.method, trailers));
        if (err.code === Code.Unavailable && err.details.length > 0 && carriesDraining(err.details)) this.serverRefused(id, failure);
        call.fail(failure);
      } else {
        call.fail(
          new RpcError(
            Code.Internal,
            `protocol violation by server: response without the "${call.method.binding.response.path}" case`,
            [],
            this.context(call.method, trailers),
          ),
        );
      }
      return;
    }
    this.calls.delete(id);
    if (code === ControlCode.End) {
      call.end(trailers);
    } else {
      call.fail(new RpcError(Code.Cancelled, "call cancelled by the server", [], this.context(call.method, trailers)));
    }
  }

  /** The method and peer, and the trailers of the frame that ended the call, for its error. */
  private context(method: MethodCodec, trailers: ReadonlyMap<string, string> | undefined): RpcErrorContext {
    const context: RpcErrorContext = this.errorContext(method);
    if (trailers !== undefined) context.metadata = trailers;
    return context;
  }

  onProtocolError(): void {
    // Nothing to tell a server that broke the framing; onClose fails the calls.
  }

  onPeerEnd(): void {
    this.link.close(new RpcError(Code.Unavailable, "connection closed by peer", [], { peer: this.link.peer }));
  }

  onClose(error: RpcError): void {
    if (this.closeError !== undefined) return;
    this.closeError = error;
    clearInterval(this.probe);
    this.probe = undefined;
    const starting = [...this.starting];
    const all = [...this.calls.values()];
    this.starting.clear();
    this.calls.clear();
    // Request streams still waiting for their first message sent nothing; requests still in our queue
    // never left; a draining server ran none sent after the one it refused.
    for (const call of starting) {
      call.fail(markNotRun(new RpcError(error.code, error.rawMessage, [], { ...this.errorContext(call.method), cause: error })));
    }
    const written = this.link.framesWritten;
    const drainingFrom = this.drainingFrom;
    for (const call of all) {
      const failure = new RpcError(error.code, error.rawMessage, [], { ...this.errorContext(call.method), cause: error });
      if (call.seq > written || call.id > drainingFrom) markNotRun(failure);
      call.fail(failure);
    }
    this.resolveClosed(error);
  }

  /**
   * A frame for id 0: when it is the Draining notice a server sends as it
   * ends the connection, every call not answered by now was not run (the
   * server answered every request it ran before this frame).
   */
  private closingNotice(codecs: EnvelopeCodecs, inbound: ReturnType<EnvelopeCodecs["response"]["decode"]>): void {
    const error = codecs.error;
    if (inbound.code !== ControlCode.Normal || error === undefined || inbound.carried !== error.target) return;
    const value = inbound.read(error.target);
    if (value === undefined) return;
    const err = error.codec.read(value as object);
    if (err.code === Code.Unavailable && carriesDraining(err.details)) this.serverRefused(0, undefined);
  }

  /**
   * A draining server refused call `id`: it ran neither that request nor any
   * sent after it (requests are read in order, and a draining server runs
   * none). Ids rise in send order, so every call with a larger id never ran.
   */
  private serverRefused(id: number, failure: RpcError | undefined): void {
    if (failure !== undefined) markNotRun(failure);
    if (id >= this.drainingFrom) return;
    const first = this.drainingFrom === Number.POSITIVE_INFINITY;
    this.drainingFrom = id;
    if (first && this.onServerDraining !== undefined) {
      try {
        this.onServerDraining();
      } catch {
        // A failing hook must not disturb the calls.
      }
    }
  }

  private nextId(): number {
    for (;;) {
      this.lastId = this.lastId >= MAX_ID ? 1 : this.lastId + 1;
      if (!this.calls.has(this.lastId)) return this.lastId;
    }
  }
}
