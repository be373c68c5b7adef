/**
 * A connect-es `Transport` over protosocket: `createClient(ElizaService,
 * createProtosocketTransport({ target }))`. Each call becomes one request of
 * the call model (its headers the metadata, `timeoutMs` the deadline, its
 * signal the signal, its context values the values) on a protosocket
 * transport: a pool made from `target`, or one given.
 */
import type { DescMessage, DescMethodStreaming, DescMethodUnary, MessageInitShape } from "@bufbuild/protobuf";
import {
  ConnectError,
  Code as ConnectCode,
  createContextKey,
  type ContextValues as ConnectContextValues,
  type Interceptor,
  type StreamRequest as ConnectStreamRequest,
  type StreamResponse as ConnectStreamResponse,
  type Transport as ConnectTransport,
  type UnaryRequest as ConnectUnaryRequest,
  type UnaryResponse as ConnectUnaryResponse,
} from "@connectrpc/connect";
import {
  createContextValues,
  createPool,
  RpcError,
  type ContextValues,
  type PoolOptions,
  type StreamRequest,
  type StreamResponse,
  type Transport,
  type UnaryRequest,
  type UnaryResponse,
} from "@protosocket/runtime";
import { type CallParts, createCallRequest, type PreparedRequest } from "@protosocket/runtime/protocol";
import { definitionsOf, type DefineFor, type Definitions } from "./definitions.js";
import { toConnectError } from "./errors.js";
import { headersToMetadata, metadataToHeaders, type HeadersInit } from "./headers.js";
import { applyInterceptors, normalize, normalizeIterable, watchEnd, type AnyFn } from "./interceptors.js";
import { checkInterceptors, invalidOption } from "./options.js";

/** Where a pool's servers are: what `createPool` takes. */
type Target = Parameters<typeof createPool>[0];

/** Options of {@link createProtosocketTransport}: where calls go (`target` or `transport`), and how. */
export interface ProtosocketTransportOptions {
  /**
   * Where the servers are, as `createPool` and `connect(target)` take it:
   * `"host:port"`, a list, `"dns:///name:port"`, `"srv:///_svc._tcp.name"`,
   * `"unix:///path"` or a `Resolver`. A pool is made for it with `pool`'s
   * options (TLS among them), and closed by `close()`.
   */
  target?: Target;
  /**
   * A protosocket transport to call through instead of a pool made here: one
   * connection (`await connect({ host, port })`), a pool, an in-memory
   * transport (`createMemoryTransport(server)`), with protosocket
   * interceptors or not. `close()` closes it.
   */
  transport?: Transport;
  /** Options of the pool made for `target`: `tls`, `connectionsPerAddress`, `picker`, `retry`, protosocket `interceptors` … */
  pool?: PoolOptions;
  /** connect-es interceptors around every call, the first outermost (as connect-es transports apply them). */
  interceptors?: Interceptor[];
  /** The timeout of calls made without `timeoutMs`, in milliseconds (as connect-es transports' option). Default none. */
  defaultTimeoutMs?: number;
  /**
   * Makes the protosocket definition of a service (its envelopes) the first
   * time it is called. Default: from its `(protosocket.v1.envelope)` option
   * (`defineService`); a service without one fails its calls with
   * `internal`, naming the service.
   */
  defineFor?: DefineFor;
}

/** A connect-es transport over protosocket. */
export interface ProtosocketTransport extends ConnectTransport {
  /** The protosocket transport calls go through (the pool made for `target`, or the `transport` given). */
  readonly protosocket: Transport;
  /** Closes the protosocket transport: calls in flight fail with `canceled`, later calls with `unavailable`. */
  close(): void;
  /** Resolves (never rejects) with the reason once the protosocket transport has closed. */
  readonly closed: Promise<RpcError>;
}

/**
 * The routing key of a pool's `key-hash` picker, for a call made through a
 * connect-es client: `contextValues: createContextValues().set(routingKey,
 * "user-42")`. Calls with the same key go to the same server while it is up.
 */
export const routingKey = createContextKey<string | undefined>(undefined, { description: "protosocket routing key" });

/** The protosocket values bag of a call's connect-es one: the same bag when it is ours, else one that reads and writes it. */
function valuesOf(values: ConnectContextValues): ContextValues {
  if (typeof (values as Partial<ContextValues>).has === "function") return values as ContextValues;
  return new ConnectValues(values);
}

/** A connect-es values bag seen as protosocket's (which also answers `has`). */
class ConnectValues implements ContextValues {
  constructor(private readonly values: ConnectContextValues) {}
  get<T>(key: { id: symbol; defaultValue: T }): T {
    return this.values.get(key);
  }
  set<T>(key: { id: symbol; defaultValue: T }, value: T): this {
    this.values.set(key, value);
    return this;
  }
  delete(key: { id: symbol; defaultValue: unknown }): this {
    this.values.delete(key);
    return this;
  }
  has(key: { id: symbol; defaultValue: unknown }): boolean {
    const missing = Symbol();
    return this.values.get({ id: key.id, defaultValue: missing }) !== missing;
  }
}

/**
 * Creates a connect-es `Transport` over protosocket, for connect-es's
 * `createClient` (and any code written against connect-es clients):
 *
 * ```ts
 * const eliza = createClient(ElizaService, createProtosocketTransport({ target: "127.0.0.1:7000" }));
 * const { sentence } = await eliza.say({ sentence: "hi" }, { headers: { authorization: "Bearer …" }, timeoutMs: 500 });
 * ```
 *
 * Request headers travel as metadata (lower-case names), `timeoutMs` as the
 * deadline; trailers come back as trailers, response headers empty (a
 * connect-es handler's response headers arrive with the trailers). Every
 * failure is a `ConnectError` with the RpcError's code, message, details
 * and trailers (as `metadata`). Services are bound to envelopes by their
 * `(protosocket.v1.envelope)` option, or by `defineFor`.
 *
 * @throws RpcError `invalid_argument` naming an option that is not valid
 *   (and as `createPool` does, for a bad target or pool option).
 */
export function createProtosocketTransport(options: ProtosocketTransportOptions): ProtosocketTransport {
  if (options === null || typeof options !== "object") throw invalidOption("options", options, "an object");
  const interceptors = checkInterceptors<Interceptor>("interceptors", options.interceptors);
  const definitions = definitionsOf(options.defineFor);
  const defaultTimeoutMs = options.defaultTimeoutMs;
  if (defaultTimeoutMs !== undefined && (typeof defaultTimeoutMs !== "number" || Number.isNaN(defaultTimeoutMs) || defaultTimeoutMs <= 0)) {
    throw invalidOption("defaultTimeoutMs", defaultTimeoutMs, "a number of milliseconds above 0, or Infinity");
  }
  if ((options.target === undefined) === (options.transport === undefined)) {
    throw invalidOption("target", options.target, "one of target (a pool is made for it) and transport (one given)");
  }
  if (options.transport !== undefined && options.pool !== undefined) {
    throw invalidOption("pool", options.pool, "no pool options with transport: they are the options of the pool made for target");
  }
  let inner: Transport;
  if (options.transport !== undefined) {
    const t = options.transport;
    if (t === null || typeof t !== "object" || typeof t.unary !== "function" || typeof t.stream !== "function") {
      throw invalidOption("transport", t, "a protosocket Transport (connect(), createPool(), createMemoryTransport())");
    }
    inner = t;
  } else {
    inner = createPool(options.target as Target, options.pool);
  }
  return new TransportAdapter(inner, definitions, interceptors, defaultTimeoutMs);
}

/** The connect-es transport: each call a request of the call model on `inner`. */
class TransportAdapter implements ProtosocketTransport {
  constructor(
    readonly protosocket: Transport,
    private readonly definitions: Definitions,
    private readonly interceptors: readonly Interceptor[],
    private readonly defaultTimeoutMs: number | undefined,
  ) {}

  get closed(): Promise<RpcError> {
    return this.protosocket.closed;
  }

  close(): void {
    this.protosocket.close();
  }

  /** The request of a call, or the ConnectError that keeps it from starting. */
  private prepare(
    method: DescMethodUnary | DescMethodStreaming,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    header: HeadersInit | undefined,
    message: unknown,
    values: ConnectContextValues,
  ): PreparedRequest {
    // As connect-es's transports: no timeoutMs means the default; 0 or less, none.
    const timeout = timeoutMs === undefined ? this.defaultTimeoutMs : timeoutMs <= 0 ? undefined : timeoutMs;
    let found: ReturnType<Definitions["method"]>;
    try {
      found = this.definitions.method(method);
    } catch (e) {
      throw new ConnectError(e instanceof Error ? e.message : String(e), ConnectCode.Internal, undefined, undefined, e);
    }
    if (found.method === undefined) {
      throw new ConnectError(`${found.def.service.typeName} has no method ${method.name}`, ConnectCode.Unimplemented);
    }
    const key = values.get(routingKey);
    let headers: Headers | undefined;
    try {
      if (header !== undefined) headers = new Headers(header);
    } catch (e) {
      throw new ConnectError(
        `invalid headers: ${e instanceof Error ? e.message : String(e)}`,
        ConnectCode.InvalidArgument,
        undefined,
        undefined,
        e,
      );
    }
    const parts: CallParts = { contextValues: valuesOf(values) };
    if (signal !== undefined) parts.signal = signal;
    if (timeout !== undefined) parts.timeoutMs = timeout;
    if (headers !== undefined) parts.metadata = headers;
    if (key !== undefined) parts.key = key;
    try {
      return createCallRequest(this.protosocket, found.def, found.method, message, parts);
    } catch (e) {
      throw toConnectError(e, undefined);
    }
  }

  private url(method: DescMethodUnary | DescMethodStreaming): string {
    return `protosocket://${this.protosocket.target}/${method.parent.typeName}/${method.name}`;
  }

  async unary<I extends DescMessage, O extends DescMessage>(
    method: DescMethodUnary<I, O>,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    header: HeadersInit | undefined,
    input: MessageInitShape<I>,
    contextValues?: ConnectContextValues,
  ): Promise<ConnectUnaryResponse<I, O>> {
    const values = contextValues ?? createContextValues();
    const { request, cleanup } = this.prepare(method, signal, timeoutMs, header, input, values);
    const req = request as UnaryRequest;
    try {
      if (this.interceptors.length === 0) {
        return new UnaryResult(method, await this.protosocket.unary(req)) as unknown as ConnectUnaryResponse<I, O>;
      }
      const next: AnyFn = (r) =>
        this.protosocket
          .unary({
            ...req,
            signal: r.signal,
            metadata: headersToMetadata(r.header),
            contextValues: valuesOf(r.contextValues),
            message: r.message,
          })
          .then(
            (res) => unaryResponse(method, res),
            (e: unknown) => {
              throw toConnectError(e, r.signal);
            },
          );
      const chain = applyInterceptors(next, this.interceptors);
      const res = await chain({
        stream: false,
        service: method.parent,
        method,
        requestMethod: "POST",
        url: this.url(method),
        signal: req.signal,
        header: new Headers(header),
        contextValues: values,
        message: normalize(method.input, input),
      } as ConnectUnaryRequest);
      return res as ConnectUnaryResponse<I, O>;
    } catch (e) {
      throw toConnectError(e, req.signal);
    } finally {
      cleanup();
    }
  }

  async stream<I extends DescMessage, O extends DescMessage>(
    method: DescMethodStreaming<I, O>,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    header: HeadersInit | undefined,
    input: AsyncIterable<MessageInitShape<I>>,
    contextValues?: ConnectContextValues,
  ): Promise<ConnectStreamResponse<I, O>> {
    const values = contextValues ?? createContextValues();
    const { request, cleanup } = this.prepare(method, signal, timeoutMs, header, input, values);
    const req = request as StreamRequest;
    try {
      if (this.interceptors.length === 0) {
        return streamResponse(method, await this.protosocket.stream(req), req.signal, cleanup) as ConnectStreamResponse<I, O>;
      }
      const next: AnyFn = (r) =>
        this.protosocket
          .stream({
            ...req,
            signal: r.signal,
            metadata: headersToMetadata(r.header),
            contextValues: valuesOf(r.contextValues),
            message: (r as ConnectStreamRequest).message,
          })
          .then(
            (res) => streamResponse(method, res, r.signal),
            (e: unknown) => {
              throw toConnectError(e, r.signal);
            },
          );
      const chain = applyInterceptors(next, this.interceptors);
      const res = (await chain({
        stream: true,
        service: method.parent,
        method,
        requestMethod: "POST",
        url: this.url(method),
        signal: req.signal,
        header: new Headers(header),
        contextValues: values,
        message: normalizeIterable(method.input, input),
      } as ConnectStreamRequest)) as ConnectStreamResponse;
      // The deadline's timer goes when the stream ends, fails or is left; an interceptor's error becomes a ConnectError.
      return {
        ...res,
        message: watchEnd(res.message, cleanup, (e) => toConnectError(e, req.signal)),
      } as ConnectStreamResponse<I, O>;
    } catch (e) {
      cleanup();
      throw toConnectError(e, req.signal);
    }
  }
}

/**
 * A protosocket unary response as connect-es's client reads it (no
 * interceptor copies it): no response headers; the trailers as Headers,
 * made when read.
 */
class UnaryResult {
  readonly stream = false;
  readonly service: DescMethodUnary["parent"];
  readonly message: unknown;
  private headers: Headers | undefined;
  private trailers: Headers | undefined;

  constructor(
    readonly method: DescMethodUnary,
    private readonly res: UnaryResponse,
  ) {
    this.service = method.parent;
    this.message = res.message;
  }

  get header(): Headers {
    this.headers ??= new Headers();
    return this.headers;
  }

  get trailer(): Headers {
    this.trailers ??= metadataToHeaders(this.res.trailer);
    return this.trailers;
  }
}

/**
 * A protosocket unary response as connect-es's, for interceptors: its
 * header and trailer are own properties (a spread `{ ...res }` keeps them),
 * made when read.
 */
function unaryResponse(method: DescMethodUnary, res: UnaryResponse): ConnectUnaryResponse {
  let header: Headers | undefined;
  let trailer: Headers | undefined;
  return {
    stream: false,
    service: method.parent,
    method,
    message: res.message as ConnectUnaryResponse["message"],
    get header() {
      header ??= new Headers();
      return header;
    },
    get trailer() {
      trailer ??= metadataToHeaders(res.trailer);
      return trailer;
    },
  };
}

/**
 * A protosocket stream response as connect-es's: no response headers; the
 * trailers filled in when the stream ends (or fails: the error's), errors
 * as ConnectErrors; `onEnd` runs once when it ends, fails or is left.
 */
function streamResponse(method: DescMethodStreaming, res: StreamResponse, signal: AbortSignal, onEnd?: () => void): ConnectStreamResponse {
  const trailer = new Headers();
  const message = watchEnd(
    res.message,
    (error, failed) => {
      onEnd?.();
      const from = failed ? (error instanceof RpcError ? error.metadata : undefined) : res.trailer;
      if (from !== undefined && from.size > 0) metadataToHeaders(from, trailer);
    },
    (e) => toConnectError(e, signal),
  );
  return {
    stream: true,
    service: method.parent,
    method,
    header: new Headers(),
    trailer,
    message: message as ConnectStreamResponse["message"],
  };
}
