/**
 * connect-es service implementations served by a protosocket server:
 * `registerConnect(server, ElizaService, impl)`, or a connect-es `routes`
 * function (`registerConnectRoutes(server, routes)`). Each handler gets a
 * connect-es `HandlerContext` over the server's context of the call; what it
 * returns (an init object, a message, an async generator) is sent as
 * protosocket handlers' is; a ConnectError it throws is sent as the RpcError
 * of the same code, message, details and metadata.
 */
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import type {
  ConnectRouter,
  HandlerContext,
  Interceptor,
  MethodImpl,
  ServiceImpl,
  StreamRequest as ConnectStreamRequest,
  StreamResponse as ConnectStreamResponse,
  UnaryRequest as ConnectUnaryRequest,
  UnaryResponse as ConnectUnaryResponse,
} from "@connectrpc/connect";
import { Code, RpcError, type HandlerContext as CallContext, type Server, type ServiceDefinition } from "@protosocket/runtime";
import type { RpcMethod } from "@protosocket/runtime/protocol";
import { definitionsOf, type DefineFor, type Definitions } from "./definitions.js";
import { toRpcError } from "./errors.js";
import { ConnectHandlerContext } from "./handler-context.js";
import { copyHeaders } from "./headers.js";
import { applyInterceptors, normalize, normalizeIterable, watchEnd, type AnyFn } from "./interceptors.js";
import { checkInterceptors, invalidOption } from "./options.js";

/** Options of {@link registerConnect} and {@link registerConnectRoutes}. */
export interface RegisterConnectOptions {
  /**
   * Makes the protosocket definition of a service (its envelopes). Default:
   * from its `(protosocket.v1.envelope)` option (`defineService`); a
   * service without one is refused, naming it.
   */
  defineFor?: DefineFor;
  /**
   * connect-es interceptors around every handler, the first outermost, as
   * connect-es routers apply them (`connectNodeAdapter({ interceptors })`).
   * A `router.service(…, { interceptors })` of the routes replaces them for
   * its service, as in connect-es.
   */
  interceptors?: Interceptor[];
}

/** A handler as the protosocket server calls it. */
type Handler = (request: unknown, call: CallContext<RpcMethod>) => unknown;
/** A connect-es method implementation, any kind. */
type AnyImpl = (request: unknown, ctx: HandlerContext) => unknown;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === "object" && typeof (value as { then?: unknown }).then === "function";
}

/** A connect-es method implementation and the connect-es interceptors around it. */
interface MethodEntry {
  readonly method: DescMethod;
  readonly impl: AnyImpl;
  readonly interceptors: readonly Interceptor[];
}

/**
 * Serves a connect-es service implementation on a protosocket server,
 * unchanged: the `ServiceImpl` (or part of it) you would give connect-es's
 * `router.service(ElizaService, impl)`. Methods it does not implement
 * answer `unimplemented`, as with connect-es.
 *
 * ```ts
 * const server = createServer();
 * registerConnect(server, ElizaService, {
 *   say: (req, ctx) => ({ sentence: `You said: ${req.sentence}` }),
 * });
 * await server.listen({ port: 7000 });
 * ```
 *
 * Each handler's context has the call's `signal`, `timeoutMs()`, the request
 * metadata as `requestHeader`, `values` (the bag the server's interceptors
 * see), `method`, `service` and `url`; `protosocketContext(ctx)` adds the
 * client's address and the rest of the protosocket context. What the handler
 * sets on `responseHeader` and `responseTrailer` travels as trailers, with
 * the response, the stream's end, or the error.
 *
 * @throws RpcError `invalid_argument` for an option that is not valid; Error
 *   when the service cannot be defined (no envelope option) or the server
 *   refuses it (already serving, another envelope pair).
 */
export function registerConnect<S extends DescService>(
  server: Server,
  service: S,
  impl: Partial<ServiceImpl<S>>,
  options: RegisterConnectOptions = {},
): void {
  const { definitions, interceptors } = checkOptions(options);
  if (impl === null || typeof impl !== "object")
    throw new TypeError(`${service.typeName}: the implementation must be an object of methods`);
  const entries: MethodEntry[] = [];
  for (const method of service.methods) {
    const fn = (impl as Record<string, unknown>)[method.localName];
    if (fn === undefined) continue;
    if (typeof fn !== "function") throw new TypeError(`${service.typeName}: the implementation of ${method.name} is not a function`);
    entries.push({ method, impl: (fn as AnyImpl).bind(impl), interceptors });
  }
  register(server, service, entries, definitions);
}

/**
 * Serves a connect-es `routes` function on a protosocket server, unchanged:
 * the one you give `connectNodeAdapter({ routes })` or
 * `fastifyConnectPlugin`. Its `router.service(…)` and `router.rpc(…)` calls
 * register their implementations here; their HTTP options (compression,
 * read limits, JSON) do not apply, their `interceptors` do.
 *
 * ```ts
 * const routes = (router: ConnectRouter) => router.service(ElizaService, impl);
 * http2.createServer(connectNodeAdapter({ routes })).listen(8080); // HTTP
 * registerConnectRoutes(server, routes);                             // protosocket
 * ```
 *
 * @throws as {@link registerConnect}.
 */
export function registerConnectRoutes(server: Server, routes: (router: ConnectRouter) => void, options: RegisterConnectOptions = {}): void {
  const { definitions, interceptors } = checkOptions(options);
  if (typeof routes !== "function") throw invalidOption("routes", routes, "a function (router) => void");
  const byService = new Map<DescService, MethodEntry[]>();
  const add = (entry: MethodEntry): void => {
    const list = byService.get(entry.method.parent) ?? [];
    if (list.some((e) => e.method === entry.method))
      throw new Error(`${entry.method.parent.typeName}/${entry.method.name} is routed twice`);
    list.push(entry);
    byService.set(entry.method.parent, list);
  };
  const interceptorsOf = (opts: { interceptors?: Interceptor[] } | undefined): readonly Interceptor[] =>
    opts?.interceptors === undefined ? interceptors : checkInterceptors<Interceptor>("interceptors", opts.interceptors);
  const router: ConnectRouter = {
    handlers: [],
    service(service, impl, opts) {
      const around = interceptorsOf(opts);
      for (const method of service.methods) {
        const fn = (impl as Record<string, unknown>)[method.localName];
        if (fn === undefined) continue;
        if (typeof fn !== "function") throw new TypeError(`${service.typeName}: the implementation of ${method.name} is not a function`);
        add({ method, impl: (fn as AnyImpl).bind(impl), interceptors: around });
      }
      return router;
    },
    rpc<M extends DescMethod>(method: M, impl: MethodImpl<M>, opts?: { interceptors?: Interceptor[] }) {
      if (typeof impl !== "function")
        throw new TypeError(`${method.parent.typeName}: the implementation of ${method.name} is not a function`);
      add({ method, impl: impl as unknown as AnyImpl, interceptors: interceptorsOf(opts) });
      return router;
    },
  };
  routes(router);
  for (const [service, entries] of byService) register(server, service, entries, definitions);
}

function checkOptions(options: RegisterConnectOptions): { definitions: Definitions; interceptors: readonly Interceptor[] } {
  if (options === null || typeof options !== "object") throw invalidOption("options", options, "an object");
  return {
    definitions: definitionsOf(options.defineFor),
    interceptors: checkInterceptors<Interceptor>("interceptors", options.interceptors),
  };
}

/** Registers `entries` (methods of `service`) on `server` under the service's protosocket definition. */
function register(server: Server, service: DescService, entries: readonly MethodEntry[], definitions: Definitions): void {
  const bound = definitions.service(service);
  const handlers: Record<string, Handler> = {};
  const address = () => server.address;
  for (const entry of entries) {
    const ours = bound.methods.get(entry.method.name);
    if (ours === undefined) throw new Error(`${service.typeName}: its protosocket definition has no method ${entry.method.name}`);
    handlers[ours.localName] =
      entry.interceptors.length === 0
        ? directHandler(service, entry.method, entry.impl, address)
        : interceptedHandler(service, entry.method, entry.impl, entry.interceptors, address);
  }
  server.registerPartial(bound.def as ServiceDefinition, handlers as never);
}

/** A connect-es implementation as a protosocket handler, with no connect-es interceptors: straight through. */
function directHandler(service: DescService, method: DescMethod, impl: AnyImpl, address: () => Server["address"]): Handler {
  const streams = method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming";
  return (request, call) => {
    const ctx = new ConnectHandlerContext(service, method, call, address);
    let result: unknown;
    try {
      result = impl(request, ctx);
    } catch (e) {
      ctx.finish();
      throw toRpcError(e);
    }
    if (streams) return watchEnd(result as AsyncIterable<unknown>, () => ctx.finish(), toRpcError);
    if (!isThenable(result)) {
      ctx.finish();
      return result;
    }
    return Promise.resolve(result).then(
      (response) => {
        ctx.finish();
        return response;
      },
      (e: unknown) => {
        ctx.finish();
        throw toRpcError(e);
      },
    );
  };
}

/** The one message of a stream (the request of a server-streaming call, the response of a client-streaming one). */
async function single(messages: AsyncIterable<unknown>, what: string): Promise<unknown> {
  const it = messages[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done === true) throw new RpcError(Code.Internal, `${what}: no message`);
  const second = await it.next();
  if (second.done !== true) {
    await it.return?.();
    throw new RpcError(Code.Internal, `${what}: more than one message`);
  }
  return first.value;
}

/** One message as a stream. */
async function* one(message: unknown): AsyncGenerator<unknown> {
  yield message;
}

/**
 * A connect-es implementation as a protosocket handler, inside connect-es
 * interceptors, as connect-es invokes implementations: interceptors see the
 * request (a stream for every streaming kind) with the request headers, and
 * the response with the response headers and trailers, which are copied to
 * the handler context's before they are sent.
 */
function interceptedHandler(
  service: DescService,
  method: DescMethod,
  impl: AnyImpl,
  interceptors: readonly Interceptor[],
  address: () => Server["address"],
): Handler {
  const kind = method.methodKind;
  const common = (ctx: ConnectHandlerContext) => ({
    service,
    method,
    requestMethod: ctx.requestMethod,
    url: ctx.url,
    signal: ctx.signal,
    header: ctx.requestHeader,
    contextValues: ctx.values,
  });
  const responseCommon = (ctx: ConnectHandlerContext) => ({
    service,
    method,
    header: ctx.responseHeader,
    trailer: ctx.responseTrailer,
  });
  /** What interceptors returned, copied to the context whose headers and trailers are sent. */
  const keep = (ctx: ConnectHandlerContext, res: { header: Headers; trailer: Headers }, part: "header" | "trailer" | "both") => {
    if (part !== "trailer") copyHeaders(res.header, ctx.responseHeader);
    if (part !== "header") copyHeaders(res.trailer, ctx.responseTrailer);
  };

  if (kind === "unary") {
    return (request, call) => {
      const ctx = new ConnectHandlerContext(service, method, call, address);
      const anyFn: AnyFn = async (req) =>
        ({
          stream: false,
          ...responseCommon(ctx),
          message: normalize(method.output, await impl(req.message, ctx.forRequest(req))),
        }) as ConnectUnaryResponse;
      const req = { stream: false, ...common(ctx), message: request } as ConnectUnaryRequest;
      return applyInterceptors(
        anyFn,
        interceptors,
      )(req).then(
        (res) => {
          keep(ctx, res, "both");
          ctx.finish();
          return res.message;
        },
        (e: unknown) => {
          ctx.finish();
          throw toRpcError(e);
        },
      );
    };
  }

  const anyFnOf =
    (ctx: ConnectHandlerContext): AnyFn =>
    async (req) => {
      const messages = (req as ConnectStreamRequest).message;
      const hctx = ctx.forRequest(req);
      let output: AsyncIterable<unknown>;
      if (kind === "server_streaming") output = impl(await single(messages, "a server-streaming request"), hctx) as AsyncIterable<unknown>;
      else if (kind === "client_streaming") output = one(normalize(method.output, await impl(messages, hctx)));
      else output = impl(messages, hctx) as AsyncIterable<unknown>;
      return { stream: true, ...responseCommon(ctx), message: normalizeIterable(method.output, output) } as ConnectStreamResponse;
    };

  if (kind === "client_streaming") {
    return (requests, call) => {
      const ctx = new ConnectHandlerContext(service, method, call, address);
      const req = { stream: true, ...common(ctx), message: requests } as ConnectStreamRequest;
      return (async () => {
        try {
          const res = await applyInterceptors(anyFnOf(ctx), interceptors)(req);
          keep(ctx, res, "header");
          const response = await single(res.message as AsyncIterable<unknown>, "a client-streaming response");
          keep(ctx, res, "trailer");
          return response;
        } catch (e) {
          throw toRpcError(e);
        } finally {
          ctx.finish();
        }
      })();
    };
  }

  return (request, call) => {
    const ctx = new ConnectHandlerContext(service, method, call, address);
    const messages = kind === "server_streaming" ? one(request) : (request as AsyncIterable<unknown>);
    const req = { stream: true, ...common(ctx), message: messages } as ConnectStreamRequest;
    return (async function* () {
      try {
        const res = await applyInterceptors(anyFnOf(ctx), interceptors)(req);
        keep(ctx, res, "header");
        yield* res.message as AsyncIterable<unknown>;
        keep(ctx, res, "trailer");
      } catch (e) {
        throw toRpcError(e);
      } finally {
        ctx.finish();
      }
    })();
  };
}
