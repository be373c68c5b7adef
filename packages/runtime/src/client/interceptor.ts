import {
  create,
  type DescMessage,
  type DescMethodBiDiStreaming,
  type DescMethodClientStreaming,
  type DescMethodServerStreaming,
  type DescMethodUnary,
  type Message,
} from "@bufbuild/protobuf";
import { createContextValues, type ContextValues } from "../context-values.js";
import { toMetadata } from "../metadata.js";
import { Code, RpcError } from "../errors.js";
import { isEncoded, type AnyServiceDefinition } from "../service/rpc-service.js";
import type { ServiceDefinition } from "../service/service-definition.js";
import { isAsyncIterable, mapAsyncIterable } from "../util/map-iterable.js";
import { checkCallOptions, type CallOptions } from "./call-options.js";
import type { Transport } from "./transport.js";

/** What every intercepted call carries. */
interface RequestCommon {
  /** The service definition the method belongs to. */
  readonly service: ServiceDefinition;
  /** The method, as "package.Service/Method". */
  readonly methodName: string;
  /** Where the call goes ({@link Transport.target}). */
  readonly peer: string;
  /**
   * Aborts when the caller cancels or the deadline passes. An interceptor may
   * pass on another signal (one that also aborts for its own reasons).
   */
  readonly signal: AbortSignal;
  /**
   * When the call must be complete, in Date.now() milliseconds; undefined for
   * no deadline. An interceptor may set an earlier one.
   */
  readonly deadline: number | undefined;
  /** Values shared by the interceptors of this call. */
  readonly contextValues: ContextValues;
  /**
   * The metadata the request carries (from `CallOptions.metadata`); an
   * interceptor may add to it (an auth token, trace context). It travels only
   * when the service's envelope binds a metadata field.
   */
  readonly metadata: Map<string, string>;
  /** The call's routing key ({@link CallOptions.key}), for a pool's key-hash picker; an interceptor may set one. */
  readonly key: string | undefined;
}

/** A unary call on its way to the transport. */
export interface UnaryRequest<I extends DescMessage = DescMessage, O extends DescMessage = DescMessage> extends RequestCommon {
  readonly kind: "unary";
  /** The method's descriptor. */
  readonly method: DescMethodUnary<I, O>;
  /** The request message. */
  readonly message: Message;
}

/** A server-streaming call on its way to the transport. */
export interface StreamRequest<I extends DescMessage = DescMessage, O extends DescMessage = DescMessage> extends RequestCommon {
  readonly kind: "server_streaming";
  /** The method's descriptor. */
  readonly method: DescMethodServerStreaming<I, O>;
  /** The request message. */
  readonly message: Message;
}

/** A client-streaming call on its way to the transport. */
export interface ClientStreamRequest<I extends DescMessage = DescMessage, O extends DescMessage = DescMessage> extends RequestCommon {
  readonly kind: "client_streaming";
  /** The method's descriptor. */
  readonly method: DescMethodClientStreaming<I, O>;
  /** The request messages, as the caller produces them; wrap it to observe or change each one. */
  readonly message: AsyncIterable<Message>;
}

/** A bidi-streaming call on its way to the transport. */
export interface BidiStreamRequest<I extends DescMessage = DescMessage, O extends DescMessage = DescMessage> extends RequestCommon {
  readonly kind: "bidi_streaming";
  /** The method's descriptor. */
  readonly method: DescMethodBiDiStreaming<I, O>;
  /** The request messages, as the caller produces them; wrap it to observe or change each one. */
  readonly message: AsyncIterable<Message>;
}

/** What every outcome carries. */
interface ResponseCommon {
  /**
   * The trailers the server sent with the call's final frame (empty when none,
   * or when the envelope binds no metadata field); for a stream, filled in
   * when it ends.
   */
  readonly trailer: ReadonlyMap<string, string>;
}

/** The outcome of a unary call. */
export interface UnaryResponse extends ResponseCommon {
  readonly kind: "unary";
  /** The response message. */
  readonly message: Message;
}

/** The outcome of a server-streaming call: its messages, as they arrive. */
export interface StreamResponse extends ResponseCommon {
  readonly kind: "server_streaming";
  /** The response messages; wrap it to observe each one, the end or the error. */
  readonly message: AsyncIterable<Message>;
}

/** The outcome of a client-streaming call. */
export interface ClientStreamResponse extends ResponseCommon {
  readonly kind: "client_streaming";
  /** The response message. */
  readonly message: Message;
}

/** The outcome of a bidi-streaming call: its response messages, as they arrive. */
export interface BidiStreamResponse extends ResponseCommon {
  readonly kind: "bidi_streaming";
  /** The response messages; wrap it to observe each one, the end or the error. */
  readonly message: AsyncIterable<Message>;
}

/** Any intercepted call. */
export type CallRequest = UnaryRequest | StreamRequest | ClientStreamRequest | BidiStreamRequest;
/** The outcome of any intercepted call. */
export type CallResponse = UnaryResponse | StreamResponse | ClientStreamResponse | BidiStreamResponse;
/** A step of the client chain: the next interceptor, or the transport. */
export type CallFn = (request: CallRequest) => Promise<CallResponse>;

/**
 * A client interceptor: given the next step, returns a step that may look
 * at or change the request, call `next` (or not: throw an RpcError to
 * short-circuit), and look at or change the response. The first interceptor
 * of a list is the outermost.
 *
 * ```ts
 * const logger: Interceptor = (next) => async (req) => {
 *   const res = await next(req);
 *   console.log(req.methodName, "ok");
 *   return res;
 * };
 * ```
 */
export type Interceptor = (next: CallFn) => CallFn;

/** Builds the chain of `interceptors` around `last`; the first interceptor is the outermost. */
export function chainInterceptors(interceptors: readonly Interceptor[], last: CallFn): CallFn {
  let fn = last;
  for (let i = interceptors.length - 1; i >= 0; i--) fn = (interceptors[i] as Interceptor)(fn);
  return fn;
}

/** Throws unless `interceptors` is an array of functions. */
export function checkInterceptors(name: string, interceptors: unknown): readonly Interceptor[] {
  if (interceptors === undefined) return [];
  if (!Array.isArray(interceptors) || interceptors.some((i) => typeof i !== "function")) {
    throw new RpcError(Code.InvalidArgument, `invalid option ${name}: expected an array of interceptor functions`);
  }
  return interceptors as readonly Interceptor[];
}

const NO_SIGNAL = new AbortController().signal;

/** The trailer of every call with one response that received none (read-only: one Map for all). */
const NO_TRAILER: ReadonlyMap<string, string> = new Map();

/** The absolute deadline of a call's `timeoutMs`, in Date.now() milliseconds. */
function deadlineOf(options: CallOptions | undefined): number | undefined {
  const timeoutMs = options?.timeoutMs;
  return timeoutMs === undefined || timeoutMs === Number.POSITIVE_INFINITY ? undefined : Date.now() + timeoutMs;
}

/** Hands a response's trailers to the caller's onTrailer, when it has any. */
function reportTrailer(res: CallResponse | undefined, onTrailer: CallOptions["onTrailer"]): void {
  const trailer = res?.trailer;
  if (onTrailer !== undefined && trailer !== undefined && trailer.size > 0) onTrailer(trailer);
}

/** The calls an {@link InterceptorChain} ends in. */
export interface ChainTarget {
  /** Where calls go ({@link Transport.target}). */
  readonly target: string;
  /** Calls a unary method, past every interceptor. */
  unary(def: ServiceDefinition, method: DescMethodUnary, input: Message, options: CallOptions): Promise<Message>;
  /** Calls a server-streaming method, past every interceptor. */
  stream(def: ServiceDefinition, method: DescMethodServerStreaming, input: Message, options: CallOptions): AsyncIterable<Message>;
  /** Calls a client-streaming method, past every interceptor. */
  clientStream(
    def: ServiceDefinition,
    method: DescMethodClientStreaming,
    input: AsyncIterable<Message>,
    options: CallOptions,
  ): Promise<Message>;
  /** Calls a bidi-streaming method, past every interceptor. */
  bidiStream(
    def: ServiceDefinition,
    method: DescMethodBiDiStreaming,
    input: AsyncIterable<Message>,
    options: CallOptions,
  ): AsyncIterable<Message>;
}

/** The caller's request stream as messages; `invalid_argument` for one that is not a valid message. */
function requestMessages(method: DescMethodClientStreaming | DescMethodBiDiStreaming, input: unknown): AsyncIterable<Message> {
  if (!isAsyncIterable(input)) {
    throw new RpcError(Code.InvalidArgument, "the requests of a client- or bidi-streaming call must be an AsyncIterable");
  }
  return mapAsyncIterable(input, (init) => {
    try {
      return create(method.input, init as never);
    } catch (e) {
      throw new RpcError(Code.InvalidArgument, `invalid request: ${e instanceof Error ? e.message : String(e)}`, [], { cause: e });
    }
  });
}

/**
 * A lazily opened response stream: `open` runs on the first `next()`;
 * `return()` waits for it. The caller's `onTrailer` gets the response's
 * trailers once the stream has ended.
 */
function lazyStream(open: () => Promise<CallResponse>, onTrailer: CallOptions["onTrailer"]): AsyncIterable<Message> {
  return {
    [Symbol.asyncIterator]: () => {
      let inner: AsyncIterator<Message> | undefined;
      let opening: Promise<AsyncIterator<Message>> | undefined;
      let res: CallResponse | undefined;
      const start = () => {
        opening ??= open().then((r) => {
          res = r;
          inner = (r.message as AsyncIterable<Message>)[Symbol.asyncIterator]();
          return inner;
        });
        return opening;
      };
      const ended = (r: IteratorResult<Message>) => {
        if (r.done === true) reportTrailer(res, onTrailer);
        return r;
      };
      return {
        // Once open, one then() per message (none without onTrailer): this is a stream's per-message path.
        next: () => {
          if (inner === undefined)
            return start()
              .then((i) => i.next())
              .then(ended);
          try {
            const r = inner.next();
            return onTrailer === undefined ? r : Promise.resolve(r).then(ended);
          } catch (e) {
            // An interceptor's iterator that throws instead of rejecting.
            return Promise.reject(e);
          }
        },
        return: async () => {
          if (inner === undefined && opening !== undefined) await opening.catch(() => undefined);
          if (inner?.return !== undefined) await inner.return();
          return { value: undefined, done: true };
        },
      };
    },
  };
}

/**
 * Runs calls through interceptors and then into a {@link ChainTarget}: a
 * transport's own call path. Used by a connection given interceptors and by
 * {@link withInterceptors}; never built when there are none, so calls
 * without interceptors cost nothing extra.
 */
export class InterceptorChain {
  private readonly chain: CallFn;

  /**
   * @param interceptors the interceptors, outermost first.
   * @param inner where calls go after the last interceptor.
   */
  constructor(
    interceptors: readonly Interceptor[],
    private readonly inner: ChainTarget,
  ) {
    this.chain = chainInterceptors(interceptors, (req) => this.callInner(req));
  }

  /** Runs a unary call through the chain. */
  unary(def: AnyServiceDefinition, method: DescMethodUnary, input: unknown, options: CallOptions | undefined): Promise<Message> {
    return this.single("unary", def, method, input, options);
  }

  /** Runs a server-streaming call through the chain when iteration starts. */
  stream(
    def: AnyServiceDefinition,
    method: DescMethodServerStreaming,
    input: unknown,
    options: CallOptions | undefined,
  ): AsyncIterable<Message> {
    return lazyStream(() => this.chain(this.request("server_streaming", def, method, input, options)), options?.onTrailer);
  }

  /** Runs a client-streaming call through the chain. */
  clientStream(
    def: AnyServiceDefinition,
    method: DescMethodClientStreaming,
    input: unknown,
    options: CallOptions | undefined,
  ): Promise<Message> {
    return this.single("client_streaming", def, method, input, options);
  }

  /** Runs a bidi-streaming call through the chain when iteration starts. */
  bidiStream(
    def: AnyServiceDefinition,
    method: DescMethodBiDiStreaming,
    input: unknown,
    options: CallOptions | undefined,
  ): AsyncIterable<Message> {
    return lazyStream(() => this.chain(this.request("bidi_streaming", def, method, input, options)), options?.onTrailer);
  }

  /** Runs a call with one response through the chain; its trailers go to the caller's onTrailer. */
  private single(
    kind: "unary" | "client_streaming",
    def: AnyServiceDefinition,
    method: DescMethodUnary | DescMethodClientStreaming,
    input: unknown,
    options: CallOptions | undefined,
  ): Promise<Message> {
    let req: CallRequest;
    try {
      req = this.request(kind, def, method, input, options);
    } catch (e) {
      return Promise.reject(RpcError.from(e, Code.InvalidArgument));
    }
    const onTrailer = options?.onTrailer;
    return this.chain(req).then((res) => {
      reportTrailer(res, onTrailer);
      return res.message as Message;
    });
  }

  /**
   * The request of a call, as interceptors see it; checks the call options
   * first, then makes `input` a message (or the request stream a stream of
   * messages). Interceptors see protobuf messages: a service of another
   * encoding is refused here (whatever transport holds the chain), never let
   * past them.
   */
  private request(
    kind: CallRequest["kind"],
    def: AnyServiceDefinition,
    method: CallRequest["method"],
    input: unknown,
    options: CallOptions | undefined,
  ): CallRequest {
    if (isEncoded(def)) {
      throw new RpcError(
        Code.InvalidArgument,
        `interceptors do not apply to ${def.encoding.name} services yet: call ${def.service.typeName} through a transport without interceptors`,
        [],
        { peer: this.inner.target },
      );
    }
    checkCallOptions(options);
    return {
      kind,
      service: def,
      method,
      methodName: `${def.service.typeName}/${method.name}`,
      peer: this.inner.target,
      message:
        kind === "unary" || kind === "server_streaming"
          ? create(method.input, input as never)
          : requestMessages(method as DescMethodClientStreaming | DescMethodBiDiStreaming, input),
      signal: options?.signal ?? NO_SIGNAL,
      deadline: deadlineOf(options),
      contextValues: options?.contextValues ?? createContextValues(),
      metadata: toMetadata("metadata", options?.metadata),
      key: options?.key,
    } as CallRequest;
  }

  /** The end of the chain: the target, with the request's signal and what is left of its deadline. */
  private callInner(req: CallRequest): Promise<CallResponse> {
    // Calls with one response build their response once done: a Map only when trailers came.
    let trailer: Map<string, string> | undefined;
    const kind = req.kind;
    if (kind === "server_streaming" || kind === "bidi_streaming") trailer = new Map();
    const options: CallOptions = {
      contextValues: req.contextValues,
      onTrailer: (t) => {
        trailer ??= new Map();
        for (const [k, v] of t) trailer.set(k, v);
      },
    };
    if (req.signal !== NO_SIGNAL) options.signal = req.signal;
    if (req.deadline !== undefined) options.timeoutMs = Math.max(0, req.deadline - Date.now());
    if (req.metadata.size > 0) options.metadata = req.metadata;
    if (req.key !== undefined) options.key = req.key;
    switch (req.kind) {
      case "unary":
        return this.inner
          .unary(req.service, req.method, req.message, options)
          .then((message) => ({ kind: "unary", message, trailer: trailer ?? NO_TRAILER }));
      case "server_streaming":
        return Promise.resolve({
          kind: "server_streaming",
          message: this.inner.stream(req.service, req.method, req.message, options),
          trailer: trailer as Map<string, string>,
        });
      case "client_streaming":
        return this.inner
          .clientStream(req.service, req.method, req.message, options)
          .then((message) => ({ kind: "client_streaming", message, trailer: trailer ?? NO_TRAILER }));
      case "bidi_streaming":
        return Promise.resolve({
          kind: "bidi_streaming",
          message: this.inner.bidiStream(req.service, req.method, req.message, options),
          trailer: trailer as Map<string, string>,
        });
    }
  }
}

/** A transport whose calls go through interceptors first. */
class InterceptedTransport implements Transport {
  private readonly chain: InterceptorChain;

  constructor(
    private readonly inner: Transport,
    interceptors: readonly Interceptor[],
  ) {
    this.chain = new InterceptorChain(interceptors, {
      get target() {
        return inner.target;
      },
      unary: (def, method, input, options) => inner.unary(def, method, input as never, options),
      stream: (def, method, input, options) => inner.stream(def, method, input as never, options),
      clientStream: (def, method, input, options) => inner.clientStream(def, method, input as never, options),
      bidiStream: (def, method, input, options) => inner.bidiStream(def, method, input as never, options),
    });
  }

  get target(): string {
    return this.inner.target;
  }

  get closed(): Promise<RpcError> {
    return this.inner.closed;
  }

  close(): void {
    this.inner.close();
  }

  unary(def: ServiceDefinition, method: DescMethodUnary, input: unknown, options?: CallOptions): Promise<never> {
    return this.chain.unary(def, method, input, options) as Promise<never>;
  }

  stream(def: ServiceDefinition, method: DescMethodServerStreaming, input: unknown, options?: CallOptions): AsyncIterable<never> {
    return this.chain.stream(def, method, input, options) as AsyncIterable<never>;
  }

  clientStream(def: ServiceDefinition, method: DescMethodClientStreaming, input: unknown, options?: CallOptions): Promise<never> {
    return this.chain.clientStream(def, method, input, options) as Promise<never>;
  }

  bidiStream(def: ServiceDefinition, method: DescMethodBiDiStreaming, input: unknown, options?: CallOptions): AsyncIterable<never> {
    return this.chain.bidiStream(def, method, input, options) as AsyncIterable<never>;
  }
}

/** `transport` with `interceptors` around every call; `transport` itself when there are none. */
export function withInterceptors(transport: Transport, interceptors: readonly Interceptor[]): Transport {
  return interceptors.length === 0 ? transport : (new InterceptedTransport(transport, interceptors) as unknown as Transport);
}
