import type { DescMessage, Message, MessageInitShape } from "@bufbuild/protobuf";
import type { FrameHandler, FrameLink } from "../conn/frame-link.js";
import { ControlCode } from "../envelope/control-code.js";
import type { EnvelopeContext } from "../envelope/envelope-wire.js";
import { DEFAULT_METADATA_LIMITS, toMetadata, trailerMetadataError, type MetadataLimits } from "../metadata.js";
import { codecsOf, envelopeBindingClash, type EnvelopeCodecs, type MethodCodec } from "../envelope/service-codecs.js";
import type { AnyServiceDefinition } from "../service/rpc-service.js";
import { carriesDraining } from "../draining.js";
import { Code, RpcError } from "../errors.js";
import type { RpcMethod } from "../service/rpc-service.js";
import { isAsyncIterable } from "../util/map-iterable.js";
import { BidiStreamCall } from "./bidi-stream-call.js";
import { checkCallOptions, type CallOptions } from "./call-options.js";
import { ClientStreamCall } from "./client-stream-call.js";
import { InterceptedTransport } from "./intercepted-transport.js";
import type { Interceptor } from "./interceptor.js";
import { markNotRun } from "./not-run.js";
import type { CallHost, PendingCall } from "./pending-call.js";
import { ServerStreamCall } from "./server-stream-call.js";
import type { Transport } from "./transport.js";
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
  /** How much metadata (trailers) a response frame may carry. Default DEFAULT_METADATA_LIMITS. */
  metadataLimits?: MetadataLimits;
}

/** The init object of an empty message. */
const EMPTY_INIT = {};

/** The largest id before ids wrap around to 1. */
const MAX_ID = Number.MAX_SAFE_INTEGER;
/** How often a connection paused for a slow stream consumer checks that its server is alive. */
const PAUSED_PROBE_MS = 400;

/**
 * The client side of one connection, and a {@link Transport} over it:
 * assigns message ids, sends requests, routes each response frame to its
 * call, and fails every call in flight when the link closes. Works over any
 * {@link FrameLink} (a socket, or memory).
 */
export class ClientConnection extends InterceptedTransport implements Transport, FrameHandler, CallHost {
  readonly closed: Promise<RpcError>;
  private readonly link: FrameLink;
  private readonly streamBufferMessages: number;
  private readonly metadataLimits: MetadataLimits;
  private readonly calls = new Map<number, PendingCall>();
  /** Request-streaming calls waiting for their first message: no id, nothing sent yet. */
  private readonly starting = new Set<PendingCall>();
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

  /**
   * @param link the link to the server; started here.
   * @param options the stream buffer size and interceptors.
   */
  constructor(link: FrameLink, options: ClientConnectionOptions) {
    super();
    this.link = link;
    this.streamBufferMessages = options.streamBufferMessages;
    this.metadataLimits = options.metadataLimits ?? DEFAULT_METADATA_LIMITS;
    this.onServerDraining = options.onServerDraining;
    this.closed = new Promise<RpcError>((resolve) => (this.resolveClosed = resolve));
    this.installInterceptors(options.interceptors ?? [], link.peer);
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

  /**
   * What every call checks before it starts: its options, its service's
   * codecs on this connection, its method and kind, and for a request
   * stream that its requests can be read. Throws `invalid_argument`.
   * (unaryCall does the same inline.)
   */
  private prepare(
    def: AnyServiceDefinition,
    method: RpcMethod,
    kind: RpcMethod["methodKind"],
    options: CallOptions | undefined,
    input?: unknown,
  ): { codecs: EnvelopeCodecs; mc: MethodCodec } {
    checkCallOptions(options);
    const codecs = this.codecsFor(def);
    const mc = this.methodOf(codecs, def, method, kind);
    if (kind === "client_streaming" || kind === "bidi_streaming") this.checkRequests(mc, input);
    return { codecs, mc };
  }

  protected unaryCall(def: AnyServiceDefinition, method: RpcMethod, input: unknown, options: CallOptions | undefined): Promise<Message> {
    let codecs: EnvelopeCodecs;
    let mc: MethodCodec;
    try {
      // prepare() inlined: the unary path is the hot one, and skips its result object.
      checkCallOptions(options);
      codecs = this.codecsFor(def);
      mc = this.methodOf(codecs, def, method, "unary");
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<Message>((resolve, reject) => {
      const call = new UnaryCall(this, codecs, mc, resolve, reject);
      const early = this.open(call, input, options);
      if (early !== undefined) reject(early);
      else if (options !== undefined && (options.signal !== undefined || options.timeoutMs !== undefined)) call.arm(options);
    });
  }

  protected streamCall(
    def: AnyServiceDefinition,
    method: RpcMethod,
    input: unknown,
    options: CallOptions | undefined,
  ): AsyncIterable<Message> {
    return {
      [Symbol.asyncIterator]: () => {
        let codecs: EnvelopeCodecs;
        let mc: MethodCodec;
        try {
          ({ codecs, mc } = this.prepare(def, method, "server_streaming", options));
        } catch (e) {
          return { next: () => Promise.reject(e) };
        }
        return new ServerStreamCall(this, codecs, mc, input, options, this.streamBufferMessages);
      },
    };
  }

  protected clientStreamCall(
    def: AnyServiceDefinition,
    method: RpcMethod,
    input: AsyncIterable<unknown>,
    options: CallOptions | undefined,
  ): Promise<Message> {
    let codecs: EnvelopeCodecs;
    let mc: MethodCodec;
    try {
      ({ codecs, mc } = this.prepare(def, method, "client_streaming", options, input));
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<Message>((resolve, reject) => {
      new ClientStreamCall(this, codecs, mc, input, resolve, reject).start(options);
    });
  }

  protected bidiStreamCall(
    def: AnyServiceDefinition,
    method: RpcMethod,
    input: AsyncIterable<unknown>,
    options: CallOptions | undefined,
  ): AsyncIterable<Message> {
    return {
      [Symbol.asyncIterator]: () => {
        let codecs: EnvelopeCodecs;
        let mc: MethodCodec;
        try {
          ({ codecs, mc } = this.prepare(def, method, "bidi_streaming", options, input));
        } catch (e) {
          return { next: () => Promise.reject(e) };
        }
        return new BidiStreamCall(this, codecs, mc, input, options, this.streamBufferMessages);
      },
    };
  }

  /** Throws `invalid_argument` unless a request stream can be read with `for await`. */
  private checkRequests(method: MethodCodec, input: unknown): void {
    if (!isAsyncIterable(input)) {
      throw new RpcError(
        Code.InvalidArgument,
        "the requests of a client- or bidi-streaming call must be an AsyncIterable",
        [],
        this.errorContext(method),
      );
    }
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

  private methodOf(codecs: EnvelopeCodecs, def: AnyServiceDefinition, method: RpcMethod, kind: RpcMethod["methodKind"]): MethodCodec {
    const mc = codecs.method(method);
    if (mc === undefined || method.methodKind !== kind) {
      throw new RpcError(
        Code.InvalidArgument,
        mc === undefined
          ? `method ${method.parent.typeName}/${method.name} is not a method of ${def.service.typeName}`
          : `${mc.fullName} is ${method.methodKind}; call it as such`,
        [],
        { peer: this.link.peer },
      );
    }
    return mc;
  }

  /**
   * Sends a call's first frame and registers it: the request (Normal), or
   * for a request stream its first message (Normal) or End when it has none.
   * Returns the error instead when the call cannot start (cancelled already,
   * no time left, the connection closed, the request too large or not
   * encodable); nothing is sent then.
   */
  open(call: PendingCall, input: unknown, options: CallOptions | undefined, code: ControlCode = ControlCode.Normal): RpcError | undefined {
    const method = call.method;
    const early = this.startError(method, options);
    if (early !== undefined) return early;
    this.starting.delete(call);
    let context: EnvelopeContext | undefined;
    try {
      if (options !== undefined) context = this.contextOf(options);
    } catch (e) {
      return RpcError.from(e, Code.InvalidArgument).withContext(this.errorContext(method));
    }
    if (options?.onTrailer !== undefined) call.onTrailer = options.onTrailer;
    const id = this.nextId();
    const error = this.write(call, id, code, input, context);
    if (error !== undefined) return error;
    call.id = id;
    call.seq = this.link.framesSent;
    this.calls.set(id, call);
    return undefined;
  }

  /** Registers a request-streaming call before its first frame (see CallHost.reserve). */
  reserve(call: PendingCall, options: CallOptions | undefined): RpcError | undefined {
    const early = this.startError(call.method, options);
    if (early !== undefined) return early;
    this.starting.add(call);
    return undefined;
  }

  /** Sends a further frame of an open request-streaming call (see CallHost.send). */
  send(call: PendingCall, code: ControlCode, input?: unknown): RpcError | undefined {
    if (this.closeError !== undefined) {
      return new RpcError(Code.Unavailable, `connection is closed: ${this.closeError.rawMessage}`, [], this.errorContext(call.method));
    }
    return this.write(call, call.id, code, input);
  }

  /** Forgets a call the client gave up on and tells the server (if the call reached it). */
  cancel(call: PendingCall): void {
    if (this.starting.delete(call)) return;
    if (this.calls.get(call.id) !== call) return;
    this.calls.delete(call.id);
    if (!this.link.ended) this.write(call, call.id, ControlCode.Cancel, undefined);
  }

  /** The metadata and deadline a call's first frame carries (where the envelope binds fields for them). */
  private contextOf(options: CallOptions): EnvelopeContext | undefined {
    const { metadata, timeoutMs } = options;
    const deadlineMs = timeoutMs !== undefined && timeoutMs !== Number.POSITIVE_INFINITY ? timeoutMs : undefined;
    if (metadata === undefined && deadlineMs === undefined) return undefined;
    return { metadata: metadata === undefined ? undefined : toMetadata("metadata", metadata), deadlineMs };
  }

  /** Why a call cannot start, or undefined. */
  private startError(method: MethodCodec, options: CallOptions | undefined): RpcError | undefined {
    if (options !== undefined) {
      if (options.signal?.aborted === true) {
        return new RpcError(Code.Cancelled, "call cancelled by the client before it started", [], {
          ...this.errorContext(method),
          cause: options.signal.reason,
        });
      }
      if (options.timeoutMs !== undefined && options.timeoutMs <= 0) {
        return new RpcError(
          Code.DeadlineExceeded,
          `timeoutMs ${options.timeoutMs} leaves no time for the call`,
          [],
          this.errorContext(method),
        );
      }
    }
    if (this.closeError !== undefined) {
      return markNotRun(
        new RpcError(Code.Unavailable, `connection is closed: ${this.closeError.rawMessage}`, [], this.errorContext(method)),
      );
    }
    return undefined;
  }

  /**
   * Writes one request frame of `call` with `id`. Normal frames carry
   * `input`; End and Cancel frames of a request stream carry the method's
   * case with an empty message (so every frame names its method), those of
   * other calls no case. Returns the error when it cannot be written.
   */
  private write(call: PendingCall, id: number, code: ControlCode, input: unknown, context?: EnvelopeContext): RpcError | undefined {
    const method = call.method;
    const kind = method.desc.methodKind;
    // A Normal frame carries the request as given (a message or its init object: the codec writes it
    // as create() would make it, without making it); End and Cancel of a request stream an empty one.
    let message: MessageInitShape<DescMessage> | undefined;
    if (code === ControlCode.Normal) message = input as MessageInitShape<DescMessage>;
    else if (kind === "client_streaming" || kind === "bidi_streaming") message = EMPTY_INIT;
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

  /** The error of a call whose deadline passed. */
  deadlineError(method: MethodCodec, timeoutMs: number): RpcError {
    return new RpcError(Code.DeadlineExceeded, `no response within ${timeoutMs} ms (timeoutMs)`, [], this.errorContext(method));
  }

  /** The error of a call its caller cancelled. */
  cancelledError(method: MethodCodec, reason: unknown): RpcError {
    return new RpcError(Code.Cancelled, "call cancelled by the client", [], { ...this.errorContext(method), cause: reason });
  }

  onFrame(body: Uint8Array): void {
    const primary = this.primary;
    if (primary === undefined) throw new Error("frame received before any call was made");
    let inbound = primary.response.decode(body, this.metadataLimits);
    const id = inbound.id;
    if (typeof id === "bigint") return; // never assigned by this client
    const call = this.calls.get(id);
    if (call === undefined) {
      // Late (after a client cancel) or unknown: ignored. Id 0 (never a call's) may carry a server's last word.
      if (id === 0) this.closingNotice(primary, inbound);
      return;
    }
    const codecs = call.codecs;
    if (codecs !== primary) inbound = codecs.response.decode(body, this.metadataLimits);
    if (inbound.metadataOverLimit !== undefined) {
      this.calls.delete(id);
      call.fail(trailerMetadataError(inbound.metadataOverLimit).withContext(this.errorContext(call.method)));
      return;
    }
    const code = inbound.code;
    // Trailers come with the call's final frame: the single response (unary, client streaming), End, the error, or Cancel.
    const trailers = inbound.metadata;
    if (trailers !== undefined && call.onTrailer !== undefined) {
      const kind = call.method.desc.methodKind;
      const single = kind === "unary" || kind === "client_streaming";
      if (code !== ControlCode.Normal || single || inbound.carried !== call.method.response) call.onTrailer(trailers);
    }
    if (code === ControlCode.Normal) {
      const value = inbound.read(call.method.response);
      if (value !== undefined) {
        const kind = call.method.desc.methodKind;
        if (kind === "unary" || kind === "client_streaming") this.calls.delete(id);
        call.deliver(value);
        return;
      }
      this.calls.delete(id);
      const error = codecs.error;
      const errorValue = error !== undefined && inbound.carried === error.target ? inbound.read(error.target) : undefined;
      if (error !== undefined && errorValue !== undefined) {
        const err = error.codec.read(errorValue);
        const failure = new RpcError(err.code, err.message, err.details, this.errorContext(call.method));
        if (err.code === Code.Unavailable && err.details.length > 0 && carriesDraining(err.details)) this.serverRefused(id, failure);
        call.fail(failure);
      } else {
        call.fail(
          new RpcError(
            Code.Internal,
            `protocol violation by server: response without the "${call.method.binding.response.path}" case`,
            [],
            this.errorContext(call.method),
          ),
        );
      }
      return;
    }
    this.calls.delete(id);
    if (code === ControlCode.End) {
      call.end();
    } else {
      call.fail(new RpcError(Code.Cancelled, "call cancelled by the server", [], this.errorContext(call.method)));
    }
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
    const err = error.codec.read(value);
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
