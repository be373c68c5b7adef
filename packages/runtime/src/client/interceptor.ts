import { create, type DescMessage, type DescMethodServerStreaming, type DescMethodUnary, type Message } from "@bufbuild/protobuf";
import { createContextValues, type ContextValues } from "../context-values.js";
import { Code, RpcError } from "../errors.js";
import type { ServiceDefinition } from "../service/service-definition.js";
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

/** The outcome of a unary call. */
export interface UnaryResponse {
  readonly kind: "unary";
  /** The response message. */
  readonly message: Message;
}

/** The outcome of a server-streaming call: its messages, as they arrive. */
export interface StreamResponse {
  readonly kind: "server_streaming";
  /** The response messages; wrap it to observe each one, the end or the error. */
  readonly message: AsyncIterable<Message>;
}

/** Any intercepted call. */
export type CallRequest = UnaryRequest | StreamRequest;
/** The outcome of any intercepted call. */
export type CallResponse = UnaryResponse | StreamResponse;
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

/** The calls an {@link InterceptorChain} ends in. */
export interface ChainTarget {
  /** Where calls go ({@link Transport.target}). */
  readonly target: string;
  /** Calls a unary method, past every interceptor. */
  unary(def: ServiceDefinition, method: DescMethodUnary, input: Message, options: CallOptions): Promise<Message>;
  /** Calls a server-streaming method, past every interceptor. */
  stream(def: ServiceDefinition, method: DescMethodServerStreaming, input: Message, options: CallOptions): AsyncIterable<Message>;
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
  unary(def: ServiceDefinition, method: DescMethodUnary, input: unknown, options: CallOptions | undefined): Promise<Message> {
    try {
      checkCallOptions(options);
      const req: UnaryRequest = { kind: "unary", method, message: create(method.input, input as never), ...this.common(def, method, options) };
      return this.chain(req).then((res) => res.message as Message);
    } catch (e) {
      return Promise.reject(RpcError.from(e, Code.InvalidArgument));
    }
  }

  /** Runs a server-streaming call through the chain when iteration starts. */
  stream(def: ServiceDefinition, method: DescMethodServerStreaming, input: unknown, options: CallOptions | undefined): AsyncIterable<Message> {
    return {
      [Symbol.asyncIterator]: () => {
        let inner: AsyncIterator<Message> | undefined;
        let opening: Promise<AsyncIterator<Message>> | undefined;
        const open = () => {
          opening ??= (async () => {
            checkCallOptions(options);
            const req: StreamRequest = { kind: "server_streaming", method, message: create(method.input, input as never), ...this.common(def, method, options) };
            const res = (await this.chain(req)) as StreamResponse;
            const it = res.message[Symbol.asyncIterator]();
            inner = it;
            return it;
          })();
          return opening;
        };
        return {
          next: async () => (await open()).next(),
          return: async () => {
            if (inner === undefined && opening !== undefined) await opening.catch(() => undefined);
            if (inner?.return !== undefined) await inner.return();
            return { value: undefined, done: true };
          },
        };
      },
    };
  }

  private common(def: ServiceDefinition, method: DescMethodUnary | DescMethodServerStreaming, options: CallOptions | undefined) {
    const timeoutMs = options?.timeoutMs;
    return {
      service: def,
      methodName: `${def.service.typeName}/${method.name}`,
      peer: this.inner.target,
      signal: options?.signal ?? NO_SIGNAL,
      deadline: timeoutMs === undefined || timeoutMs === Number.POSITIVE_INFINITY ? undefined : Date.now() + timeoutMs,
      contextValues: options?.contextValues ?? createContextValues(),
      key: options?.key,
    };
  }

  /** The end of the chain: the target, with the request's signal and what is left of its deadline. */
  private callInner(req: CallRequest): Promise<CallResponse> {
    const options: CallOptions = { contextValues: req.contextValues };
    if (req.signal !== NO_SIGNAL) options.signal = req.signal;
    if (req.deadline !== undefined) options.timeoutMs = Math.max(0, req.deadline - Date.now());
    if (req.key !== undefined) options.key = req.key;
    if (req.kind === "unary") {
      return this.inner.unary(req.service, req.method, req.message, options).then((message) => ({ kind: "unary", message }));
    }
    return Promise.resolve({ kind: "server_streaming", message: this.inner.stream(req.service, req.method, req.message, options) });
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
}

/** `transport` with `interceptors` around every call; `transport` itself when there are none. */
export function withInterceptors(transport: Transport, interceptors: readonly Interceptor[]): Transport {
  return interceptors.length === 0 ? transport : (new InterceptedTransport(transport, interceptors) as unknown as Transport);
}
