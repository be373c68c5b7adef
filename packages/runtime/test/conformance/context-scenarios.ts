// The call-context matrix: for every call kind of every encoding (protobuf in
// its own envelopes and in the standard envelope, MessagePack), on the
// transport a ConformanceFactory gives (TCP, memory, a pool; any runtime),
// a call carries its metadata out, a deadline its handler sees, its trailers
// back; cancellation works both ways; an error arrives with its code and
// details; and interceptors on both sides see all of it. Public API and
// node:assert only, as the other conformance scenarios.
import { strict as assert } from "node:assert";
import { Code, type Interceptor, RpcError, type Transport } from "@protosocket/runtime";
import { ErrorInfoSchema } from "@protosocket/runtime/gen/google/rpc/error_details_pb.js";
import {
  type ContextClient,
  type ContextKit,
  type ContextReply,
  type ContextRequest,
  type Kind,
  METADATA_KEY,
  messagePackKit,
  protobufKit,
  type SeenReply,
  standardKit,
  TAG_KEY,
  TRAILER_KEY,
} from "./context-service.js";
import type { ConformanceTarget } from "./factory.js";

/** One matrix scenario: its encoding's kit and what it checks against a server of that kit. */
export interface ContextScenario {
  readonly name: string;
  readonly kit: ContextKit;
  run(target: ConformanceTarget): Promise<void>;
}

/** What the client-side interceptor saw of one call. */
interface ClientSeen {
  metadata: string | undefined;
  deadline: number | undefined;
  trailer: ReadonlyMap<string, string> | undefined;
  error: RpcError | undefined;
}

/** An interceptor that records, per tag, what a client's interceptors see: metadata, deadline, trailers, the error. */
function clientRecorder(seen: Map<string, ClientSeen>): Interceptor {
  return (next) => async (req) => {
    const tag = req.metadata.get(TAG_KEY) ?? "";
    const record: ClientSeen = { metadata: req.metadata.get(METADATA_KEY), deadline: req.deadline, trailer: undefined, error: undefined };
    seen.set(tag, record);
    let res: Awaited<ReturnType<typeof next>>;
    try {
      res = await next(req);
    } catch (e) {
      record.error = e as RpcError;
      throw e;
    }
    if (!res.stream) {
      record.trailer = res.trailer;
      return res;
    }
    const messages = res.message;
    return {
      ...res,
      message: (async function* () {
        try {
          yield* messages;
          record.trailer = res.trailer;
        } catch (e) {
          record.error = e as RpcError;
          throw e;
        }
      })(),
    };
  };
}

let tags = 0;

/** The requests of a request stream: `count` with `mode`, then (with `hold`) none until `hold` resolves. */
async function* requests(request: ContextRequest, count: number, hold?: Promise<void>): AsyncIterable<ContextRequest> {
  for (let i = 0; i < count; i++) yield request;
  if (hold !== undefined) await hold;
}

/** Runs one call of `kind` to its end; returns its replies. */
async function call(
  client: ContextClient,
  kind: Kind,
  request: ContextRequest,
  options: object,
  hold?: Promise<void>,
): Promise<ContextReply[]> {
  switch (kind) {
    case "unary":
      return [await client.unary(request, options)];
    case "server_streaming": {
      const out: ContextReply[] = [];
      for await (const r of client.serverStream(request, options)) out.push(r);
      return out;
    }
    case "client_streaming":
      return [await (client.clientStream as NonNullable<ContextClient["clientStream"]>)(requests(request, 3, hold), options)];
    case "bidi_streaming": {
      const out: ContextReply[] = [];
      for await (const r of (client.bidi as NonNullable<ContextClient["bidi"]>)(requests(request, 3, hold), options)) out.push(r);
      return out;
    }
  }
}

/** The replies each kind gives to a "context" call. */
const REPLIES: Record<Kind, number[]> = {
  unary: [1],
  server_streaming: [1, 2],
  client_streaming: [3],
  bidi_streaming: [1, 2, 3],
};

/** The RpcError `run` fails with. */
async function failure(run: Promise<unknown>): Promise<RpcError> {
  try {
    await run;
  } catch (e) {
    assert.ok(e instanceof RpcError, `expected an RpcError, got ${String(e)}`);
    return e;
  }
  assert.fail("expected the call to fail");
}

/** What the server saw of `tag`, once `ok` holds of it (it reports asynchronously; at most 10 s). */
async function seenByServer(client: ContextClient, tag: string, ok: (s: SeenReply) => boolean): Promise<SeenReply> {
  const until = Date.now() + 10_000;
  for (;;) {
    const s = await client.seen({ tag });
    if (ok(s)) return s;
    if (Date.now() > until) assert.fail(`the server's view of ${tag}: last seen ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The five scenarios of one kind of one encoding. */
function scenariosOf(kit: ContextKit, kind: Kind): ContextScenario[] {
  const name = (what: string) => `context (${kit.encoding}, ${kind}): ${what}`;
  const setup = (transport: Transport) => {
    const seen = new Map<string, ClientSeen>();
    const client = kit.client(transport, [clientRecorder(seen)]);
    const tag = `${kit.encoding}-${kind}-${++tags}`;
    const metadata = { [METADATA_KEY]: `m-${tag}`, [TAG_KEY]: tag };
    return { seen, client, tag, metadata };
  };
  return [
    {
      name: name("metadata goes out, the handler sees a deadline, trailers come back; interceptors on both sides see them"),
      kit,
      async run({ transport }) {
        const { seen, client, tag, metadata } = setup(transport);
        const trailers: ReadonlyMap<string, string>[] = [];
        const replies = await call(
          client,
          kind,
          { mode: "context", tag },
          { metadata, timeoutMs: 30_000, onTrailer: (t: ReadonlyMap<string, string>) => trailers.push(t) },
        );
        assert.deepEqual(
          replies.map((r) => r.seq),
          REPLIES[kind],
        );
        for (const r of replies) {
          assert.equal(r.metadata, `m-${tag}`, "the handler's ctx.metadata");
          assert.equal(r.hasDeadline, true, "the handler's ctx.deadline");
        }
        assert.equal(trailers.length, 1, "onTrailer is called once");
        assert.equal(trailers[0]?.get(TRAILER_KEY), kind);
        const client$ = seen.get(tag) as ClientSeen;
        assert.equal(client$.metadata, `m-${tag}`);
        assert.ok(client$.deadline !== undefined && client$.deadline > Date.now(), "the client interceptor sees the deadline");
        assert.equal(client$.trailer?.get(TRAILER_KEY), kind, "the client interceptor sees the trailers");
        const server$ = await seenByServer(client, tag, (s) => s.outcome >= 0);
        assert.deepEqual(
          { metadata: server$.metadata, hasDeadline: server$.hasDeadline, outcome: server$.outcome, abortCode: server$.abortCode },
          { metadata: `m-${tag}`, hasDeadline: true, outcome: 0, abortCode: 0 },
          "the server interceptor's view",
        );
      },
    },
    {
      name: name("a handler's error arrives with its code, message, details and trailers"),
      kit,
      async run({ transport }) {
        const { seen, client, tag, metadata } = setup(transport);
        const trailers: ReadonlyMap<string, string>[] = [];
        const e = await failure(
          call(client, kind, { mode: "fail", tag }, { metadata, onTrailer: (t: ReadonlyMap<string, string>) => trailers.push(t) }),
        );
        assert.equal(e.code, Code.NotFound);
        assert.equal(e.rawMessage, `no ${tag}`);
        assert.deepEqual(
          e.findDetails(ErrorInfoSchema).map((d) => [d.reason, d.domain]),
          [[tag, kind]],
        );
        assert.equal(e.metadata.get(TRAILER_KEY), kind, "the error's metadata: the trailers");
        assert.equal(trailers[0]?.get(TRAILER_KEY), kind, "onTrailer gets them too");
        assert.equal((seen.get(tag) as ClientSeen).error?.code, Code.NotFound);
        const server$ = await seenByServer(client, tag, (s) => s.outcome >= 0);
        assert.equal(server$.outcome, Code.NotFound);
      },
    },
    {
      name: name("the client cancels: the call fails cancelled and the handler's signal aborts with cancelled"),
      kit,
      async run({ transport }) {
        const { seen, client, tag, metadata } = setup(transport);
        const ac = new AbortController();
        const running = failure(call(client, kind, { mode: "wait", tag }, { metadata, signal: ac.signal }, new Promise<void>(() => {})));
        await seenByServer(client, tag, (s) => s.seen);
        ac.abort();
        const e = await running;
        assert.equal(e.code, Code.Cancelled);
        assert.equal((seen.get(tag) as ClientSeen).error?.code, Code.Cancelled);
        const server$ = await seenByServer(client, tag, (s) => s.abortCode !== 0 && s.outcome >= 0);
        assert.equal(server$.abortCode, Code.Cancelled, "the handler's signal");
        assert.equal(server$.outcome, Code.Cancelled, "the server interceptor");
      },
    },
    {
      name: name("the server cancels: the call fails cancelled"),
      kit,
      async run({ transport }) {
        const { client, tag, metadata } = setup(transport);
        const e = await failure(call(client, kind, { mode: "cancel", tag }, { metadata }));
        assert.equal(e.code, Code.Cancelled);
        assert.equal((await seenByServer(client, tag, (s) => s.outcome >= 0)).outcome, Code.Cancelled);
      },
    },
    {
      name: name("the deadline passes: deadline_exceeded on the client, and on the server"),
      kit,
      async run({ transport }) {
        const { seen, client, tag, metadata } = setup(transport);
        const e = await failure(call(client, kind, { mode: "wait", tag }, { metadata, timeoutMs: 200 }, new Promise<void>(() => {})));
        assert.equal(e.code, Code.DeadlineExceeded);
        assert.equal((seen.get(tag) as ClientSeen).error?.code, Code.DeadlineExceeded);
        const server$ = await seenByServer(client, tag, (s) => s.abortCode !== 0 && s.outcome >= 0);
        assert.equal(server$.abortCode, Code.DeadlineExceeded, "the handler's signal");
        assert.equal(server$.outcome, Code.DeadlineExceeded, "the server interceptor");
      },
    },
  ];
}

/** Every scenario of the matrix: every kind of every encoding. */
export const contextScenarios: readonly ContextScenario[] = [protobufKit, standardKit, messagePackKit].flatMap((kit) =>
  kit.kinds.flatMap((kind) => scenariosOf(kit, kind)),
);
