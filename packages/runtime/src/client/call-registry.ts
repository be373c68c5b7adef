import type { DescMessage, Message, MessageInitShape } from "@bufbuild/protobuf";
import type { Connection } from "../conn/connection.js";
import { ControlCode } from "../envelope/control-code.js";
import { Code, RpcError } from "../errors.js";
import type { ServiceDefinition } from "../service/service-definition.js";
import { FrameError } from "../wire/frame-error.js";
import type { CallOptions } from "./client-types.js";
import { createClientEnvelopes, createClientMethods, type ClientEnvelopes, type ClientMethod } from "./client-service.js";

/** Options of {@link createCallRegistry}. */
export interface CallRegistryOptions {
  /** The peer, for errors. */
  peer: string;
  /** Per-stream buffered responses above which reading pauses. */
  streamBufferMessages: number;
  /** The connection (available once the registry is wired to it). */
  connection: () => Connection;
}

/**
 * The client side of a connection: assigns ids, keeps the calls in flight,
 * routes each response frame to its call, and fails every call when the
 * connection closes.
 */
export interface CallRegistry {
  /** Calls in flight. */
  readonly size: number;
  /**
   * Binds a service to this connection (all services on it share one
   * envelope pair) and returns its methods, keyed by local name.
   */
  attach(def: ServiceDefinition): Map<string, ClientMethod>;
  /** Starts a unary call. */
  unary(method: ClientMethod, request: unknown, options: CallOptions | undefined): Promise<Message>;
  /** Creates a server-streaming call; the request is sent when iteration starts. */
  stream(method: ClientMethod, request: unknown, options: CallOptions | undefined): AsyncIterable<Message>;
  /** Handles one response frame. */
  onFrame(body: Uint8Array): void;
  /** Fails every call in flight (the connection closed). */
  failAll(error: RpcError): void;
}

interface PendingCall {
  readonly id: number;
  readonly method: ClientMethod;
  deliver(value: Message): void;
  end(): void;
  fail(error: RpcError): void;
}

const MAX_ID = Number.MAX_SAFE_INTEGER;
/** How often a connection paused for a slow stream consumer checks that its server is alive. */
const PAUSED_PROBE_MS = 400;

/** Creates the {@link CallRegistry} of one connection. */
export function createCallRegistry(options: CallRegistryOptions): CallRegistry {
  const { peer } = options;
  const calls = new Map<number, PendingCall>();
  let envelopes: ClientEnvelopes | undefined;
  let envelopeKey: string | undefined;
  const defs: ServiceDefinition[] = [];
  const allMethods: ClientMethod[] = [];
  let lastId = 0;
  let closedError: RpcError | undefined;

  // Streams whose consumers fell behind; while any does, the connection does not read.
  let pausedStreams = 0;
  let probe: NodeJS.Timeout | undefined;

  /**
   * Stops reading for a stream whose consumer fell behind. A socket that is
   * not read never reports the server's FIN or RST, so while paused the
   * client writes a Cancel for id 0 (an id it never assigns; servers ignore
   * Cancels for unknown ids) every PAUSED_PROBE_MS: against a dead server
   * the write fails, the connection closes and every call fails promptly.
   */
  function pauseForStream(): void {
    if (pausedStreams++ > 0) return;
    const conn = options.connection();
    conn.pauseReading();
    probe = setInterval(() => {
      if (conn.closed || envelopes === undefined) return;
      envelopes.request.write(conn, 0, ControlCode.Cancel);
    }, PAUSED_PROBE_MS);
    probe.unref();
  }

  function resumeForStream(): void {
    if (pausedStreams === 0 || --pausedStreams > 0) return;
    clearInterval(probe);
    probe = undefined;
    options.connection().resumeReading();
  }

  function nextId(): number {
    for (;;) {
      lastId = lastId >= MAX_ID ? 1 : lastId + 1;
      if (!calls.has(lastId)) return lastId;
    }
  }

  function contextOf(method: ClientMethod) {
    return { method: method.fullName, peer };
  }

  /** Encodes and queues a request; registers `call` only once the frame is queued. */
  function start(method: ClientMethod, request: unknown, makeCall: (id: number) => PendingCall): PendingCall {
    if (closedError !== undefined) {
      throw new RpcError(Code.Unavailable, `connection is closed: ${closedError.rawMessage}`, [], contextOf(method));
    }
    const env = envelopes as ClientEnvelopes;
    const id = nextId();
    try {
      env.request.write(options.connection(), id, ControlCode.Normal, method.request, request as MessageInitShape<DescMessage>);
    } catch (e) {
      if (e instanceof FrameError) {
        throw new RpcError(Code.ResourceExhausted, `request not sent: ${e.message}`, [], { ...contextOf(method), cause: e });
      }
      if (e instanceof RpcError) throw e.withContext(contextOf(method));
      throw new RpcError(Code.InvalidArgument, `cannot encode request: ${e instanceof Error ? e.message : String(e)}`, [], { ...contextOf(method), cause: e });
    }
    const call = makeCall(id);
    calls.set(id, call);
    return call;
  }

  /** Removes a call the client gave up on and tells the server. */
  function cancel(call: PendingCall): void {
    if (calls.get(call.id) !== call) return;
    calls.delete(call.id);
    const conn = options.connection();
    if (!conn.closed && envelopes !== undefined) {
      envelopes.request.write(conn, call.id, ControlCode.Cancel);
    }
  }

  /** Arms `signal` and `timeoutMs` for a call; returns the disarm function. */
  function arm(call: PendingCall, callOptions: CallOptions | undefined, onAbort: (e: RpcError) => void): () => void {
    const signal = callOptions?.signal;
    const timeoutMs = callOptions?.timeoutMs;
    if (signal === undefined && timeoutMs === undefined) return noop;
    let timer: NodeJS.Timeout | undefined;
    const abort = () => {
      disarm();
      onAbort(new RpcError(Code.Cancelled, "call cancelled by the client", [], { ...contextOf(call.method), cause: signal?.reason }));
    };
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => {
        disarm();
        onAbort(new RpcError(Code.DeadlineExceeded, `no response within ${timeoutMs} ms (timeoutMs)`, [], contextOf(call.method)));
      }, timeoutMs);
    }
    signal?.addEventListener("abort", abort, { once: true });
    function disarm() {
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener("abort", abort);
    }
    return disarm;
  }

  function preflight(method: ClientMethod, callOptions: CallOptions | undefined): RpcError | undefined {
    if (callOptions?.signal?.aborted) {
      return new RpcError(Code.Cancelled, "call cancelled by the client before it started", [], { ...contextOf(method), cause: callOptions.signal.reason });
    }
    if (callOptions?.timeoutMs !== undefined && callOptions.timeoutMs <= 0) {
      return new RpcError(Code.DeadlineExceeded, `timeoutMs ${callOptions.timeoutMs} leaves no time for the call`, [], contextOf(method));
    }
    return undefined;
  }

  function unary(method: ClientMethod, request: unknown, callOptions: CallOptions | undefined): Promise<Message> {
    const early = preflight(method, callOptions);
    if (early !== undefined) return Promise.reject(early);
    let call: UnaryCall;
    const promise = new Promise<Message>((resolve, reject) => {
      try {
        call = start(method, request, (id) => new UnaryCall(id, method, resolve, reject, peer)) as UnaryCall;
      } catch (e) {
        reject(e);
      }
    });
    // `call` is set when start() succeeded (the executor runs synchronously).
    const c = call!;
    if (c !== undefined && (callOptions?.signal !== undefined || callOptions?.timeoutMs !== undefined)) {
      c.disarm = arm(c, callOptions, (e) => {
        cancel(c);
        c.reject(e);
      });
    }
    return promise;
  }

  function stream(method: ClientMethod, request: unknown, callOptions: CallOptions | undefined): AsyncIterable<Message> {
    return {
      [Symbol.asyncIterator]: () => createStreamIterator(method, request, callOptions),
    };
  }

  function createStreamIterator(method: ClientMethod, request: unknown, callOptions: CallOptions | undefined): AsyncIterator<Message> {
    const highWater = options.streamBufferMessages;
    let buffer: Message[] = [];
    let head = 0;
    let state: "idle" | "open" | "ended" | "failed" | "done" = "idle";
    let error: RpcError | undefined;
    let waiting: { resolve: (r: IteratorResult<Message>) => void; reject: (e: unknown) => void } | undefined;
    let paused = false;
    let call: PendingCall | undefined;
    let disarm = noop;

    const buffered = () => buffer.length - head;
    const unpause = () => {
      if (paused) {
        paused = false;
        resumeForStream();
      }
    };
    const settle = () => {
      const w = waiting;
      if (w === undefined) return;
      if (buffered() > 0) {
        waiting = undefined;
        w.resolve({ value: take(), done: false });
      } else if (state === "failed") {
        waiting = undefined;
        state = "done";
        w.reject(error);
      } else if (state === "ended") {
        waiting = undefined;
        state = "done";
        w.resolve({ value: undefined, done: true });
      }
    };
    const take = (): Message => {
      const v = buffer[head] as Message;
      buffer[head++] = undefined as never;
      if (head === buffer.length) {
        buffer = [];
        head = 0;
      }
      if (paused && buffered() <= highWater / 2) unpause();
      return v;
    };
    const finish = (next: "ended" | "failed", e?: RpcError) => {
      if (state !== "open") return;
      disarm();
      state = next;
      error = e;
      unpause();
      settle();
    };
    const begin = (): RpcError | undefined => {
      state = "open";
      const early = preflight(method, callOptions);
      if (early !== undefined) return early;
      try {
        call = start(method, request, (id) => ({
          id,
          method,
          deliver(value) {
            buffer.push(value);
            if (!paused && buffered() >= highWater) {
              paused = true;
              pauseForStream();
            }
            settle();
          },
          end: () => finish("ended"),
          fail: (e) => finish("failed", e),
        }));
      } catch (e) {
        return RpcError.from(e);
      }
      const c = call;
      disarm = arm(c, callOptions, (e) => {
        cancel(c);
        finish("failed", e);
      });
      return undefined;
    };

    return {
      next() {
        if (state === "idle") {
          const e = begin();
          if (e !== undefined) {
            state = "done";
            return Promise.reject(e);
          }
        }
        if (buffered() > 0) return Promise.resolve({ value: take(), done: false });
        if (state === "failed") {
          state = "done";
          return Promise.reject(error);
        }
        if (state === "ended" || state === "done") {
          state = "done";
          return Promise.resolve({ value: undefined, done: true });
        }
        return new Promise((resolve, reject) => {
          waiting = { resolve, reject };
        });
      },
      return() {
        if (state === "open" && call !== undefined) {
          cancel(call);
        }
        if (state === "open") {
          disarm();
          unpause();
        }
        state = "done";
        buffer = [];
        head = 0;
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  function onFrame(body: Uint8Array): void {
    if (envelopes === undefined) {
      throw new Error("frame received before any call was made");
    }
    const inbound = envelopes.response.decode(body);
    const id = inbound.id;
    if (typeof id === "bigint") return; // never assigned by this client
    const call = calls.get(id);
    if (call === undefined) return; // late (after a client cancel) or unknown: ignored
    const code = inbound.code;
    if (code === ControlCode.Normal) {
      const value = inbound.read(call.method.response);
      if (value !== undefined) {
        if (call.method.binding.kind === "unary") calls.delete(call.id);
        call.deliver(value);
        return;
      }
      calls.delete(call.id);
      const error = envelopes.error;
      const errorValue = error !== undefined && inbound.carried === error.target ? inbound.read(error.target) : undefined;
      if (error !== undefined && errorValue !== undefined) {
        const err = error.codec.read(errorValue);
        call.fail(new RpcError(err.code, err.message, err.details, contextOf(call.method)));
      } else {
        call.fail(new RpcError(Code.Internal, `protocol violation by server: response without the "${call.method.binding.response.path}" case`, [], contextOf(call.method)));
      }
      return;
    }
    calls.delete(call.id);
    if (code === ControlCode.End) {
      call.end();
    } else {
      call.fail(new RpcError(Code.Cancelled, "call cancelled by the server", [], contextOf(call.method)));
    }
  }

  function failAll(error: RpcError): void {
    closedError = error;
    clearInterval(probe);
    probe = undefined;
    const all = [...calls.values()];
    calls.clear();
    for (const call of all) {
      const code = error.code === Code.Cancelled ? Code.Cancelled : error.code;
      call.fail(new RpcError(code, error.rawMessage, [], { ...contextOf(call.method), cause: error }));
    }
  }

  return {
    get size() {
      return calls.size;
    },
    attach(def) {
      const key = `${def.requestEnvelope.typeName}|${def.responseEnvelope.typeName}`;
      if (envelopeKey !== undefined && envelopeKey !== key) {
        throw new Error(
          `${def.service.typeName} uses envelopes ${def.requestEnvelope.typeName}/${def.responseEnvelope.typeName}, but this transport already carries ${envelopeKey.replace("|", "/")}; connect a separate transport`,
        );
      }
      const methods = createClientMethods(def);
      defs.push(def);
      allMethods.push(...methods.values());
      // (Re)build the codecs for every method the transport carries: a later
      // service may need the generic codec where the first did not.
      envelopes = createClientEnvelopes(defs, allMethods);
      envelopeKey = key;
      return methods;
    },
    unary,
    stream,
    onFrame,
    failAll,
  };
}

function noop(): void {}

/** A unary call in flight: a class rather than closures, to keep the hot path light. */
class UnaryCall implements PendingCall {
  disarm: () => void = noop;

  constructor(
    readonly id: number,
    readonly method: ClientMethod,
    private readonly resolveFn: (value: Message) => void,
    private readonly rejectFn: (error: unknown) => void,
    private readonly peer: string,
  ) {}

  deliver(value: Message): void {
    this.disarm();
    this.resolveFn(value);
  }

  end(): void {
    this.disarm();
    this.rejectFn(new RpcError(Code.Internal, "protocol violation by server: End on a unary call", [], { method: this.method.fullName, peer: this.peer }));
  }

  fail(error: RpcError): void {
    this.disarm();
    this.rejectFn(error);
  }

  /** Rejects without touching the timers (the caller disarmed them). */
  reject(error: RpcError): void {
    this.rejectFn(error);
  }
}
