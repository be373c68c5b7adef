// The call-context matrix's servers: conformance.v1.ContextService
// (proto/conformance/v1/context.proto) and a MessagePack service of the same
// shape (unary and server streaming: the kinds MessagePack services have),
// with one set of handlers and one server interceptor for both encodings.
// What the server saw of each call (tagged by the "x-tag" metadata) is read
// back through the Seen rpc, so a client in another process can check it.
import { ContextService } from "@protosocket/gen/conformance/v1/context_pb.js";
import { ContextServiceDefinition } from "@protosocket/gen/conformance/v1/context_protosocket.js";
import {
  Code,
  createClient,
  defineStandardService,
  type Interceptor,
  RpcError,
  type Server,
  type ServerInterceptor,
  type ServerOptions,
  type Transport,
} from "@protosocket/runtime";
import * as mp from "@protosocket/runtime/messagepack";
import { ErrorInfoSchema } from "@protosocket/runtime/gen/google/rpc/error_details_pb.js";

/** The call kinds of the matrix. */
export type Kind = "unary" | "server_streaming" | "client_streaming" | "bidi_streaming";

/** A request of the context service. */
export interface ContextRequest {
  mode: string;
  tag: string;
}

/** A reply of the context service. */
export interface ContextReply {
  metadata: string;
  hasDeadline: boolean;
  seq: number;
}

/** What the server saw of a call. */
export interface SeenReply {
  seen: boolean;
  metadata: string;
  hasDeadline: boolean;
  outcome: number;
  abortCode: number;
}

/** The context service's client, whatever its encoding. */
export interface ContextClient {
  unary(request: ContextRequest, options?: object): Promise<ContextReply>;
  serverStream(request: ContextRequest, options?: object): AsyncIterable<ContextReply>;
  clientStream?(requests: AsyncIterable<ContextRequest>, options?: object): Promise<ContextReply>;
  bidi?(requests: AsyncIterable<ContextRequest>, options?: object): AsyncIterable<ContextReply>;
  seen(request: { tag: string }): Promise<SeenReply>;
}

/** One server of a kit: its options (its interceptor) and what registers its service. */
export interface ContextServer {
  readonly options: ServerOptions;
  register(server: Server): void;
}

/** One encoding's context service: its kinds, its servers and its client. */
export interface ContextKit {
  readonly encoding: "protobuf" | "protobuf, standard envelope" | "MessagePack";
  readonly kinds: readonly Kind[];
  /** A new server's options and registration (each server observes its own calls). */
  server(): ContextServer;
  client(transport: Transport, interceptors: Interceptor[]): ContextClient;
}

/** The metadata key whose value the handler echoes. */
export const METADATA_KEY = "x-matrix";
/** The metadata key that names a call for Seen. */
export const TAG_KEY = "x-tag";
/** The trailer every call of the matrix ends with: its kind. */
export const TRAILER_KEY = "t-kind";

interface Observed {
  metadata: string;
  hasDeadline: boolean;
  outcome: number;
  abortCode: number;
}

interface Ctx {
  readonly signal: AbortSignal;
  readonly metadata: ReadonlyMap<string, string>;
  readonly deadline: number | undefined;
  readonly trailers: Map<string, string>;
}

/** Resolves when `signal` aborts. */
function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

/** The handlers and interceptor of one server, and what they observed. */
function contextServer(kindOf: (method: string) => Kind) {
  const observed = new Map<string, Observed>();
  const entry = (tag: string): Observed => {
    let o = observed.get(tag);
    if (o === undefined) {
      o = { metadata: "", hasDeadline: false, outcome: -1, abortCode: 0 };
      observed.set(tag, o);
    }
    return o;
  };

  /** Sets the kind trailer and watches the signal; then answers by `mode`. */
  async function begin(kind: Kind, request: ContextRequest, ctx: Ctx): Promise<void> {
    ctx.trailers.set(TRAILER_KEY, kind);
    ctx.signal.addEventListener(
      "abort",
      () => {
        entry(request.tag).abortCode = RpcError.from(ctx.signal.reason).code;
      },
      { once: true },
    );
    switch (request.mode) {
      case "fail":
        throw new RpcError(Code.NotFound, `no ${request.tag}`, [{ desc: ErrorInfoSchema, value: { reason: request.tag, domain: kind } }]);
      case "cancel":
        throw new RpcError(Code.Cancelled, "the handler gave up");
      case "wait":
        await aborted(ctx.signal);
        throw RpcError.from(ctx.signal.reason);
    }
  }

  const reply = (ctx: Ctx, seq: number): ContextReply => ({
    metadata: ctx.metadata.get(METADATA_KEY) ?? "",
    hasDeadline: ctx.deadline !== undefined,
    seq,
  });

  async function first(requests: AsyncIterable<ContextRequest>): Promise<{ request: ContextRequest; rest: AsyncIterator<ContextRequest> }> {
    const it = requests[Symbol.asyncIterator]();
    const r = await it.next();
    if (r.done === true) throw new RpcError(Code.InvalidArgument, "no request");
    return { request: r.value, rest: it };
  }

  const handlers = {
    async unary(request: ContextRequest, ctx: Ctx): Promise<ContextReply> {
      await begin("unary", request, ctx);
      return reply(ctx, 1);
    },
    async *serverStream(request: ContextRequest, ctx: Ctx): AsyncIterable<ContextReply> {
      await begin("server_streaming", request, ctx);
      yield reply(ctx, 1);
      yield reply(ctx, 2);
    },
    async clientStream(requests: AsyncIterable<ContextRequest>, ctx: Ctx): Promise<ContextReply> {
      const { request, rest } = await first(requests);
      await begin("client_streaming", request, ctx);
      let n = 1;
      for (let r = await rest.next(); r.done !== true; r = await rest.next()) n++;
      return reply(ctx, n);
    },
    async *bidi(requests: AsyncIterable<ContextRequest>, ctx: Ctx): AsyncIterable<ContextReply> {
      const { request, rest } = await first(requests);
      await begin("bidi_streaming", request, ctx);
      let n = 1;
      yield reply(ctx, n);
      for (let r = await rest.next(); r.done !== true; r = await rest.next()) yield reply(ctx, ++n);
    },
    seen(request: { tag: string }): SeenReply {
      const o = observed.get(request.tag);
      return o === undefined ? { seen: false, metadata: "", hasDeadline: false, outcome: -1, abortCode: 0 } : { seen: true, ...o };
    },
  };

  /** Records what the server's interceptors see of each tagged call: metadata, deadline, outcome. */
  const interceptor: ServerInterceptor = (next) => async (req) => {
    const tag = req.metadata.get(TAG_KEY);
    if (tag === undefined || kindOf(req.method.name) === undefined) return next(req);
    const o = entry(tag);
    o.metadata = req.metadata.get(METADATA_KEY) ?? "";
    o.hasDeadline = req.deadline !== undefined;
    const end = (e?: unknown) => {
      o.outcome = e === undefined ? 0 : RpcError.from(e).code;
    };
    let res: Awaited<ReturnType<typeof next>>;
    try {
      res = await next(req);
    } catch (e) {
      end(e);
      throw e;
    }
    if (!res.stream) {
      end();
      return res;
    }
    const messages = res.message;
    return {
      ...res,
      message: (async function* () {
        try {
          yield* messages;
          end();
        } catch (e) {
          end(e);
          throw e;
        }
      })(),
    };
  };
  return { handlers, interceptor };
}

const PROTOBUF_KINDS: Record<string, Kind> = {
  Unary: "unary",
  ServerStream: "server_streaming",
  ClientStream: "client_streaming",
  Bidi: "bidi_streaming",
};

/** The matrix's protobuf service: every call kind. */
export const protobufKit: ContextKit = {
  encoding: "protobuf",
  kinds: ["unary", "server_streaming", "client_streaming", "bidi_streaming"],
  server() {
    const { handlers, interceptor } = contextServer((m) => PROTOBUF_KINDS[m] as Kind);
    return {
      options: { interceptors: [interceptor] },
      register: (server) => server.register(ContextServiceDefinition, handlers as never),
    };
  },
  client(transport, interceptors) {
    return createClient(ContextServiceDefinition, transport, { interceptors }) as unknown as ContextClient;
  },
};

/** The same service in the standard envelope (protosocket.v1.Request / Response, routed by method name). */
const StandardContextService = defineStandardService(ContextService);

/** The matrix's protobuf service in the standard envelope: every call kind. */
export const standardKit: ContextKit = {
  encoding: "protobuf, standard envelope",
  kinds: ["unary", "server_streaming", "client_streaming", "bidi_streaming"],
  server() {
    const { handlers, interceptor } = contextServer((m) => PROTOBUF_KINDS[m] as Kind);
    return {
      options: { interceptors: [interceptor] },
      register: (server) => server.register(StandardContextService, handlers as never),
    };
  },
  client(transport, interceptors) {
    return createClient(StandardContextService, transport, { interceptors }) as unknown as ContextClient;
  },
};

const ContextRequestSchema = mp.struct<ContextRequest>("ContextRequest", { mode: mp.string, tag: mp.string });
const ContextReplySchema = mp.struct<ContextReply>("ContextReply", { metadata: mp.string, hasDeadline: mp.bool, seq: mp.u32 });
const SeenRequestSchema = mp.struct<{ tag: string }>("SeenRequest", { tag: mp.string });
const SeenReplySchema = mp.struct<SeenReply>("SeenReply", {
  seen: mp.bool,
  metadata: mp.string,
  hasDeadline: mp.bool,
  outcome: mp.i32,
  abortCode: mp.i32,
});
const Status = mp.struct<{ code: number; message: string; details: mp.ErrorDetail[] }>("Status", {
  code: mp.i32,
  message: mp.string,
  details: mp.errorDetails,
});

/** The matrix's MessagePack service: unary and server streaming, with metadata, a deadline and an error with details. */
export const MessagePackContextService = mp.defineMessagePackService({
  typeName: "conformance.ContextService",
  request: { name: "Request", fields: { id: "id", code: "code", body: "body", metadata: "metadata", deadline: "deadline" } },
  response: { name: "Response", fields: { id: "id", code: "code", body: "body", metadata: "metadata" } },
  error: { schema: Status, detailsField: "details" },
  methods: {
    unary: mp.unary(ContextRequestSchema, ContextReplySchema),
    serverStream: mp.serverStreaming(ContextRequestSchema, ContextReplySchema),
    seen: mp.unary(SeenRequestSchema, SeenReplySchema),
  },
});

const MESSAGEPACK_KINDS: Record<string, Kind> = { Unary: "unary", ServerStream: "server_streaming" };

/** The matrix's MessagePack service kit. */
export const messagePackKit: ContextKit = {
  encoding: "MessagePack",
  kinds: ["unary", "server_streaming"],
  server() {
    const { handlers, interceptor } = contextServer((m) => MESSAGEPACK_KINDS[m] as Kind);
    const impl = { unary: handlers.unary, serverStream: handlers.serverStream, seen: handlers.seen };
    return {
      options: { interceptors: [interceptor] },
      register: (server) => server.register(MessagePackContextService, impl as never),
    };
  },
  client(transport, interceptors) {
    return createClient(MessagePackContextService, transport, { interceptors }) as unknown as ContextClient;
  },
};
