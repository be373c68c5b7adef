/**
 * connect-es code, written as connect-es's documentation writes it and
 * importing nothing of protosocket: a service implementation (as `routes`),
 * a client interceptor, a server interceptor and client code. The
 * "same code" test runs all of it over connect-node's HTTP transport and
 * over protosocket, and expects the same results.
 */
import {
  Code,
  ConnectError,
  createClient,
  createContextKey,
  createContextValues,
  type ConnectRouter,
  type HandlerContext,
  type Interceptor,
  type Transport,
} from "@connectrpc/connect";
import { ErrorInfoSchema } from "@protosocket/runtime/gen/google/rpc/error_details_pb.js";
import { ElizaService } from "@protosocket/gen/eliza/v1/eliza_pb.js";

/** What the handlers saw, in order: for checks of what reached the server (deadlines, cancellation). */
export interface ServerLog {
  readonly events: string[];
  /** Called after each event (see waitFor). */
  readonly listeners: Set<() => void>;
}

export function createServerLog(): ServerLog {
  return { events: [], listeners: new Set() };
}

function note(log: ServerLog, event: string): void {
  log.events.push(event);
  for (const listener of log.listeners) listener();
}

/** Resolves once the server has noted `event` `times` times. */
export function waitFor(log: ServerLog, event: string, times = 1): Promise<void> {
  const done = () => log.events.filter((e) => e === event).length >= times;
  if (done()) return Promise.resolve();
  return new Promise((resolve) => {
    const listener = () => {
      if (!done()) return;
      log.listeners.delete(listener);
      resolve();
    };
    log.listeners.add(listener);
  });
}

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

/** Who the client is, from the header the client interceptor sets. */
function who(ctx: HandlerContext): string {
  return ctx.requestHeader.get("x-user") ?? "someone";
}

/** The service, as a connect-es routes function. */
export function elizaRoutes(log: ServerLog) {
  return (router: ConnectRouter) =>
    router.service(ElizaService, {
      async say(req, ctx) {
        ctx.responseTrailer.set("x-eliza-mood", "curious");
        if (req.sentence === "fail") {
          throw new ConnectError("I cannot answer that", Code.FailedPrecondition, { "x-why": "policy" }, [
            { desc: ErrorInfoSchema, value: { reason: "POLICY", domain: "eliza.example", metadata: { topic: "fail" } } },
          ]);
        }
        if (req.sentence === "sleep") {
          note(log, `say sleep: timeoutMs ${ctx.timeoutMs() === undefined ? "none" : "set"}`);
          await aborted(ctx.signal);
          note(log, "say sleep: signal aborted");
          return { sentence: "I woke up" };
        }
        const tenant = ctx.requestHeader.get("x-tenant");
        return { sentence: `${who(ctx)} said "${req.sentence}"${tenant === null ? "" : ` for ${tenant}`}` };
      },
      async *introduce(req, ctx) {
        ctx.responseTrailer.set("x-introduced", req.name);
        yield { sentence: `Hi ${req.name}, I'm Eliza.` };
        if (req.name === "fail") {
          throw new ConnectError("introductions are over", Code.ResourceExhausted, {}, [
            { desc: ErrorInfoSchema, value: { reason: "TIRED", domain: "eliza.example" } },
          ]);
        }
        yield { sentence: `How are you feeling today, ${who(ctx)}?` };
        yield { sentence: "Tell me more." };
      },
      async confide(requests, ctx) {
        const heard: string[] = [];
        for await (const req of requests) heard.push(req.sentence);
        ctx.responseTrailer.set("x-heard", String(heard.length));
        return { heard: heard.length, sentence: `So, ${heard.join(", then ")}.` };
      },
      async *converse(requests, ctx) {
        let n = 0;
        for await (const req of requests) {
          n++;
          if (req.sentence === "fail") throw new ConnectError(`not after ${n - 1} sentences`, Code.Aborted);
          yield { sentence: `${n}: why do you say "${req.sentence}"?` };
        }
        ctx.responseTrailer.set("x-sentences", String(n));
      },
    });
}

/** A server interceptor: refuses calls that carry `x-deny`, and stamps every response's trailers. */
export const gatekeeper: Interceptor = (next) => async (req) => {
  if (req.header.has("x-deny")) throw new ConnectError("go away", Code.PermissionDenied);
  const res = await next(req);
  res.trailer.set("x-gatekeeper", "passed");
  return res;
};

/** The tenant a caller names in its context values; the client interceptor sends it as a header. */
export const kTenant = createContextKey<string | undefined>(undefined, { description: "tenant" });

/** A client interceptor: names the user and the tenant in headers, and logs each call, message and outcome. */
export function createLogger(log: string[]): Interceptor {
  return (next) => async (req) => {
    req.header.set("x-user", "ada");
    const tenant = req.contextValues.get(kTenant);
    if (tenant !== undefined) req.header.set("x-tenant", tenant);
    log.push(`> ${req.method.name}${req.stream ? " (stream)" : ""}`);
    try {
      const res = await next(req);
      if (!res.stream) {
        log.push(`< ${req.method.name}: ${res.message.$typeName}`);
        return res;
      }
      return { ...res, message: logEach(log, req.method.name, res.message) };
    } catch (e) {
      log.push(`! ${req.method.name}: ${ConnectError.from(e).code}`);
      throw e;
    }
  };
}

async function* logEach<T extends { $typeName: string }>(log: string[], name: string, messages: AsyncIterable<T>): AsyncIterable<T> {
  for await (const m of messages) {
    log.push(`< ${name}: ${m.$typeName}`);
    yield m;
  }
}

async function* sentences(...list: string[]) {
  for (const sentence of list) yield { sentence };
}

/** A ConnectError as the results compare it: code, raw message, details, and the metadata a caller set (x-…). */
function failure(e: unknown) {
  const error = ConnectError.from(e);
  return {
    code: Code[error.code],
    message: error.rawMessage,
    details: error.findDetails(ErrorInfoSchema).map((d) => ({ reason: d.reason, domain: d.domain, metadata: { ...d.metadata } })),
    metadata: Object.fromEntries([...error.metadata].filter(([name]) => name.startsWith("x-"))),
  };
}

/** The trailers a caller set (x-…), as an object. */
function ours(headers: Headers | undefined) {
  return Object.fromEntries([...(headers ?? [])].filter(([name]) => name.startsWith("x-")));
}

/**
 * Client code: every kind of call, errors, a timeout and a cancellation,
 * through `transport`. Returns what it saw, to compare across transports.
 */
export async function talkToEliza(transport: Transport, log: ServerLog) {
  const eliza = createClient(ElizaService, transport);
  const results: Record<string, unknown> = {};

  let trailer: Headers | undefined;
  const said = await eliza.say(
    { sentence: "hello" },
    { headers: { "x-request-id": "r1" }, timeoutMs: 10_000, onTrailer: (t) => (trailer = t) },
  );
  results.unary = { sentence: said.sentence, trailer: ours(trailer) };

  const values = createContextValues().set(kTenant, "acme");
  results.contextValues = (await eliza.say({ sentence: "who am I" }, { contextValues: values })).sentence;

  results.unaryError = await eliza.say({ sentence: "fail" }).then(() => "no error", failure);
  results.denied = await eliza.say({ sentence: "hello" }, { headers: { "x-deny": "1" } }).then(() => "no error", failure);

  // The code only: the message of an error the client makes itself is the transport's.
  results.timeout = await eliza.say({ sentence: "sleep" }, { timeoutMs: 200 }).then(
    () => "no error",
    (e) => failure(e).code,
  );
  await waitFor(log, "say sleep: signal aborted");

  const controller = new AbortController();
  const cancelled = eliza.say({ sentence: "sleep" }, { signal: controller.signal }).then(() => "no error", failure);
  await waitFor(log, "say sleep: timeoutMs none");
  controller.abort();
  results.cancelled = ((await cancelled) as { code: string }).code;
  await waitFor(log, "say sleep: signal aborted", 2);

  const intro: string[] = [];
  trailer = undefined;
  for await (const res of eliza.introduce({ name: "Ada" }, { onTrailer: (t) => (trailer = t) })) intro.push(res.sentence);
  results.serverStream = { sentences: intro, trailer: ours(trailer) };

  const partial: string[] = [];
  try {
    for await (const res of eliza.introduce({ name: "fail" })) partial.push(res.sentence);
    results.serverStreamError = "no error";
  } catch (e) {
    results.serverStreamError = { before: partial, error: failure(e) };
  }

  trailer = undefined;
  const confided = await eliza.confide(sentences("I dream", "I wake", "I forget"), { onTrailer: (t) => (trailer = t) });
  results.clientStream = { heard: confided.heard, sentence: confided.sentence, trailer: ours(trailer) };

  const answers: string[] = [];
  trailer = undefined;
  for await (const res of eliza.converse(sentences("I am sad", "I am happy"), { onTrailer: (t) => (trailer = t) }))
    answers.push(res.sentence);
  results.bidi = { answers, trailer: ours(trailer) };

  const before: string[] = [];
  try {
    for await (const res of eliza.converse(sentences("one", "two", "fail", "never"))) before.push(res.sentence);
    results.bidiError = "no error";
  } catch (e) {
    results.bidiError = { before, error: failure(e) };
  }
  return results;
}
