/**
 * The connect-es `HandlerContext` a connect-es handler gets on a protosocket
 * server, over the server's own context of the call.
 */
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import type { ContextValues as ConnectContextValues, HandlerContext } from "@connectrpc/connect";
import type { HandlerContext as CallContext, Server } from "@protosocket/runtime";

/** Where a server listens. */
type ServerAddress = NonNullable<Server["address"]>;
import type { RpcMethod } from "@protosocket/runtime/protocol";
import { metadataToHeaders } from "./headers.js";

/** The protosocket context behind each connect-es context this package makes. */
const calls = new WeakMap<object, CallContext<RpcMethod>>();

/**
 * The protosocket context of a call that a connect-es handler serves on a
 * protosocket server (`registerConnect`): the client's address (`peer`),
 * `metadata`, `trailers`, `deadline`, `messageId`, `callOptions()` …;
 * undefined for a context from elsewhere (connect-node), so the same
 * handler runs both ways:
 *
 * ```ts
 * const peer = protosocketContext(ctx)?.peer ?? "an HTTP client";
 * ```
 */
export function protosocketContext(ctx: HandlerContext): CallContext<RpcMethod> | undefined {
  return calls.get(ctx);
}

/**
 * A connect-es handler's context: the call's signal, `timeoutMs()`, request
 * metadata as `requestHeader`, its values bag as `values` (the one the
 * server's interceptors see); what the handler sets on `responseHeader` and
 * `responseTrailer` is sent as trailers when the call ends ({@link finish}).
 */
export class ConnectHandlerContext implements HandlerContext {
  readonly requestMethod = "POST";
  readonly protocolName = "protosocket";
  private requestHeaders: Headers | undefined;
  private responseHeaders: Headers | undefined;
  private responseTrailers: Headers | undefined;
  /** Milliseconds left to the call's deadline, or undefined without one. */
  readonly timeoutMs: () => number | undefined;

  /**
   * @param service the service's descriptor.
   * @param method the method's descriptor.
   * @param call the server's context of the call.
   * @param address where the server listens, for `url`.
   */
  constructor(
    readonly service: DescService,
    readonly method: DescMethod,
    private readonly call: CallContext<RpcMethod>,
    private readonly address: () => ServerAddress | undefined,
  ) {
    this.timeoutMs = () => call.timeoutMs();
    calls.set(this, call);
  }

  /** The client's address, "host:port" (not in connect-es's type: read it with `protosocketContext(ctx)?.peer`). */
  get peer(): string {
    return this.call.peer;
  }

  get signal(): AbortSignal {
    return this.call.signal;
  }

  get values(): ConnectContextValues {
    return this.call.contextValues;
  }

  get requestHeader(): Headers {
    this.requestHeaders ??= metadataToHeaders(this.call.metadata);
    return this.requestHeaders;
  }

  get responseHeader(): Headers {
    this.responseHeaders ??= new Headers();
    return this.responseHeaders;
  }

  get responseTrailer(): Headers {
    this.responseTrailers ??= new Headers();
    return this.responseTrailers;
  }

  /** "protosocket://host:port/package.Service/Method", the server's address and the method. */
  get url(): string {
    const a = this.address();
    const where = a === undefined ? "localhost" : a.path !== undefined ? `unix:${a.path}` : `${a.host}:${a.port}`;
    return `protosocket://${where}/${this.service.typeName}/${this.method.name}`;
  }

  /**
   * The context of the handler behind connect-es interceptors: this one,
   * with the request's header, signal and values when an interceptor passed
   * others on (as connect-es merges them).
   */
  forRequest(req: { header: Headers; signal: AbortSignal; contextValues: ConnectContextValues }): HandlerContext {
    if (req.header === this.requestHeader && req.signal === this.signal && req.contextValues === this.values) return this;
    const merged: HandlerContext = {
      service: this.service,
      method: this.method,
      signal: req.signal,
      timeoutMs: this.timeoutMs,
      requestMethod: this.requestMethod,
      requestHeader: req.header,
      responseHeader: this.responseHeader,
      responseTrailer: this.responseTrailer,
      protocolName: this.protocolName,
      values: req.contextValues,
      url: this.url,
    };
    calls.set(merged, this.call);
    return merged;
  }

  /**
   * The call is over: what the handler set on `responseHeader`, then on
   * `responseTrailer`, goes to the call's trailers (a name set in both, the
   * trailer's value).
   */
  finish(): void {
    const headers = this.responseHeaders;
    const trailers = this.responseTrailers;
    if (headers === undefined && trailers === undefined) return;
    const out = this.call.trailers;
    if (headers !== undefined) for (const [name, value] of headers) out.set(name, value);
    if (trailers !== undefined) for (const [name, value] of trailers) out.set(name, value);
  }
}
