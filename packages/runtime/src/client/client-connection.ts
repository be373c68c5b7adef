import type { FrameHandler, FrameLink } from "../conn/frame-link.js";
import { interceptCalls, type Interceptor } from "../call/interceptor.js";
import type { StreamRequest, StreamResponse, UnaryRequest, UnaryResponse } from "../call/request.js";
import type { CallTarget } from "../call/transport.js";
import { ControlCode } from "../encoding/control-code.js";
import type { EnvelopeContext } from "../encoding/envelope-wire.js";
import type { EnvelopeCodecs, MethodCodec } from "../encoding/encoding.js";
import { Code, RpcError, type RpcErrorContext } from "../errors.js";
import { DEFAULT_METADATA_LIMITS, trailerMetadataError, type MetadataLimits } from "../metadata.js";
import { readOneMessage } from "../util/one-message.js";
import { BidiStreamCall } from "./bidi-stream-call.js";
import type { CallHost, ClientCall } from "./client-call.js";
import { ClientStreamCall } from "./client-stream-call.js";
import { abortError, callContext, kindError, oneRequestError } from "./call-errors.js";
import { ConnectionCodecs } from "./connection-codecs.js";
import { ServerDraining } from "./server-draining.js";
import { StreamPause } from "./stream-pause.js";
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
  /** How much metadata (trailers) a response frame may carry. Default DEFAULT_METADATA_LIMITS. */
  metadataLimits?: MetadataLimits;
}

/** The init object of an empty message. */
const EMPTY_INIT = {};

/** How long after its deadline a call sent with it tells the server with a Cancel (see cancel()). */
const DEADLINE_CANCEL_GRACE_MS = 200;

/** The largest id before ids wrap around to 1. */
const MAX_ID = Number.MAX_SAFE_INTEGER;

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
  private readonly metadataLimits: MetadataLimits;
  private readonly calls = new Map<number, ClientCall>();
  /** Request-streaming calls waiting for their first message: no id, nothing sent yet. */
  private readonly starting = new Set<ClientCall>();
  private resolveClosed!: (error: RpcError) => void;
  private lastId = 0;
  private closeError: RpcError | undefined;
  /** The envelope pair: the first service called here chooses it; its codecs read every response's id and code. */
  private readonly codecs: ConnectionCodecs;
  /** Streams whose readers fell behind; while any does, the connection does not read. */
  private readonly streamPause: StreamPause;
  /** What the server said of its draining: the calls it did not run. */
  private readonly serverDrain: ServerDraining;
  /** The calls through the connection's interceptors; undefined when it has none. */
  private readonly chain: CallTarget | undefined;

  /**
   * @param link the link to the server; started here.
   * @param options the stream buffer size and interceptors.
   */
  constructor(link: FrameLink, options: ClientConnectionOptions) {
    this.link = link;
    this.codecs = new ConnectionCodecs(link);
    this.streamPause = new StreamPause(link);
    this.streamBufferMessages = options.streamBufferMessages;
    this.metadataLimits = options.metadataLimits ?? DEFAULT_METADATA_LIMITS;
    this.serverDrain = new ServerDraining(options.onServerDraining);
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
    return this.serverDrain.draining;
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
      ({ codecs, method: mc } = this.codecs.of(req, "unary"));
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
      if (kind === "unary") throw kindError(req, "unary", this.link.peer);
      ({ codecs, method: mc } = this.codecs.of(req, kind));
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
          const input = readOneMessage(req.message, (what) => oneRequestError(mc, this.link.peer, what));
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
    call.deadlineSent = context?.deadlineMs !== undefined && call.codecs.sendsDeadline;
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

  /**
   * Forgets a call the client gave up on and tells the server (if the call
   * reached it) with a Cancel. A call that gave up at its `deadline`, sent
   * to a server that knows it, gets its Cancel only after a grace: the
   * server ends the call at that deadline itself, and its handler sees
   * `deadline_exceeded` rather than a Cancel that may overtake the server's
   * timer by the time the request took to arrive. The Cancel still ends the
   * call on a server that did not.
   */
  cancel(call: ClientCall, deadline = false): void {
    if (this.starting.delete(call)) return;
    if (this.calls.get(call.id) !== call) return;
    this.calls.delete(call.id);
    if (this.link.ended) return;
    if (deadline && call.deadlineSent) {
      // Ids rise and wrap only after 2^53 calls: no later call takes this one's before the Cancel goes.
      const id = call.id;
      setTimeout(() => {
        if (!this.link.ended) this.write(call, id, ControlCode.Cancel, undefined);
      }, DEADLINE_CANCEL_GRACE_MS).unref?.();
      return;
    }
    this.write(call, call.id, ControlCode.Cancel, undefined);
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

  /** Stops reading for a stream whose reader fell behind (see StreamPause). */
  pauseForStream(): void {
    this.streamPause.pause((this.codecs.primary as EnvelopeCodecs).request);
  }

  /** Undoes one {@link pauseForStream}. */
  resumeForStream(): void {
    this.streamPause.resume();
  }

  /** The method and peer, for errors. */
  errorContext(method: MethodCodec): RpcErrorContext {
    return callContext(method, this.link.peer);
  }

  /** The error of a call whose signal aborted with `reason` (see call-errors.ts). */
  abortError(method: MethodCodec, reason: unknown): RpcError {
    return abortError(method, this.link.peer, reason);
  }

  onFrame(body: Uint8Array): void {
    const primary = this.codecs.primary;
    if (primary === undefined) throw new Error("frame received before any call was made");
    let inbound = primary.response.decode(body, this.metadataLimits);
    const id = inbound.id;
    if (typeof id === "bigint") return; // never assigned by this client
    const call = this.calls.get(id);
    if (call === undefined) {
      // Late (after a client cancel) or unknown: ignored. Id 0 (never a call's) may carry a server's last word.
      if (id === 0) this.serverDrain.notice(primary, inbound);
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
        const failure = new RpcError(err.code, err.message, err.details, callContext(call.method, this.link.peer, trailers));
        this.serverDrain.refusal(id, failure);
        call.fail(failure);
      } else {
        call.fail(
          new RpcError(
            Code.Internal,
            `protocol violation by server: response without the "${call.method.binding.response.path}" case`,
            [],
            callContext(call.method, this.link.peer, trailers),
          ),
        );
      }
      return;
    }
    this.calls.delete(id);
    if (code === ControlCode.End) {
      call.end(trailers);
    } else {
      call.fail(new RpcError(Code.Cancelled, "call cancelled by the server", [], callContext(call.method, this.link.peer, trailers)));
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
    this.streamPause.stop();
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
    for (const call of all) {
      const failure = new RpcError(error.code, error.rawMessage, [], { ...this.errorContext(call.method), cause: error });
      if (call.seq > written || this.serverDrain.ranNot(call.id)) markNotRun(failure);
      call.fail(failure);
    }
    this.resolveClosed(error);
  }

  private nextId(): number {
    for (;;) {
      this.lastId = this.lastId >= MAX_ID ? 1 : this.lastId + 1;
      if (!this.calls.has(this.lastId)) return this.lastId;
    }
  }
}
