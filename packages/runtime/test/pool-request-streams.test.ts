/**
 * Client-streaming and bidi-streaming calls through a pool: they pick a
 * connection (or wait for one) like any call, run there to their end, see
 * the pool's interceptors, and are never sent again (their requests are read
 * once, as they are sent).
 */
import { afterEach, describe, expect, it } from "vitest";
import { StreamingServiceDefinition, type StreamingServiceHandlers } from "@protosocket/gen/streaming/v1/streaming_protosocket.js";
import {
  Code,
  createClient,
  createPool,
  createServer,
  neverRan,
  type RpcError,
  type Interceptor,
  type PoolTransport,
  type Server,
} from "../src/index.js";
import { until } from "./support/reliability.js";

const pools: PoolTransport[] = [];
const servers: Server[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) p.close();
  await Promise.all(servers.splice(0).map((s) => s.close({ graceMs: 0 })));
});

/** A streaming server on 127.0.0.`n` whose answers carry `name`. */
async function streamingServer(name: string, n: number): Promise<string> {
  const handlers: StreamingServiceHandlers = {
    async upload(requests) {
      let chunks = 0;
      let bytes = 0n;
      for await (const chunk of requests) {
        chunks++;
        bytes += BigInt(chunk.data.length);
      }
      return { chunks, bytes, note: name };
    },
    async *chat(requests) {
      for await (const m of requests) yield { seq: m.seq, text: `${name}:${m.text}` };
    },
    ping: (m) => ({ seq: m.seq, text: name }),
  };
  const server = createServer();
  server.register(StreamingServiceDefinition, handlers);
  servers.push(server);
  const address = await server.listen({ host: `127.0.0.${n}`, port: 0 });
  return `127.0.0.${n}:${address.port}`;
}

function pool(...args: Parameters<typeof createPool>): PoolTransport {
  const p = createPool(...args);
  pools.push(p);
  return p;
}

async function* chunks(count: number, size: number) {
  for (let seq = 1; seq <= count; seq++) yield { seq, data: new Uint8Array(size) };
}

const failure = (p: Promise<unknown>): Promise<RpcError> =>
  p.then(
    () => {
      throw new Error("the call succeeded");
    },
    (e: unknown) => e as RpcError,
  );

describe("pool: client and bidi streaming", () => {
  it("uploads spread over the servers and each runs to its end on one of them", async () => {
    const targets = [await streamingServer("a", 1), await streamingServer("b", 2)];
    const p = pool(targets, { picker: "round-robin" });
    await p.whenReady();
    await until(() => p.stats.addresses.length === 2 && p.stats.addresses.every((a) => a.state === "ready"), "both servers ready");
    const client = createClient(StreamingServiceDefinition, p);
    const summaries = await Promise.all(Array.from({ length: 8 }, (_, i) => client.upload(chunks(i + 1, 10))));
    expect(summaries.map((s) => s.chunks)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(summaries.map((s) => s.bytes)).toEqual([10n, 20n, 30n, 40n, 50n, 60n, 70n, 80n]);
    expect(new Set(summaries.map((s) => s.note))).toEqual(new Set(["a", "b"]));
    expect(p.stats.picks).toBe(8);
  });

  it("a bidi call answers each message on its one server; the pool's interceptors see it", async () => {
    const targets = [await streamingServer("a", 1), await streamingServer("b", 2)];
    const kinds: string[] = [];
    const seeKind: Interceptor = (next) => (req) => {
      kinds.push(req.method.methodKind);
      return next(req);
    };
    const p = pool(targets, { interceptors: [seeKind] });
    const client = createClient(StreamingServiceDefinition, p);
    async function* messages() {
      for (let seq = 1; seq <= 5; seq++) yield { seq, text: `m${seq}` };
    }
    const answers: string[] = [];
    for await (const m of client.chat(messages())) answers.push(m.text);
    expect(answers).toHaveLength(5);
    const server = answers[0]!.split(":")[0];
    expect(answers).toEqual([1, 2, 3, 4, 5].map((n) => `${server}:m${n}`));
    expect(kinds).toEqual(["bidi_streaming"]);
    // Ending the iteration early ends the call; the pool goes on.
    for await (const m of client.chat(messages())) {
      expect(m.seq).toBe(1);
      break;
    }
    expect((await client.ping({ seq: 9 })).seq).toBe(9);
  });

  it("a request stream waits for a server that is not up yet, and fails unavailable at its deadline when none comes", async () => {
    const p = pool("127.0.0.1:1", { backoff: { initialMs: 20 } });
    const client = createClient(StreamingServiceDefinition, p);
    let pulled = 0;
    async function* counted() {
      for (let seq = 1; seq <= 3; seq++) {
        pulled++;
        yield { seq, data: new Uint8Array(1) };
      }
    }
    const upload = await failure(client.upload(counted(), { timeoutMs: 200 }));
    expect(upload.code).toBe(Code.Unavailable);
    expect(upload.message).toMatch(/no connection ready/);
    const chat = await failure(
      (async () => {
        for await (const _ of client.chat(counted(), { timeoutMs: 200 })) {
          // no answers expected
        }
      })(),
    );
    expect(chat.code).toBe(Code.Unavailable);
    // Nothing was read from the requests of calls that never found a connection.
    expect(pulled).toBe(0);
  });

  it("a request stream whose server goes away is not sent again", async () => {
    const target = await streamingServer("a", 1);
    const p = pool([target], { retry: { maxAttempts: 5 } });
    await p.whenReady();
    const client = createClient(StreamingServiceDefinition, p);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    async function* slow() {
      yield { seq: 1, data: new Uint8Array(1) };
      await gate;
      yield { seq: 2, data: new Uint8Array(1) };
    }
    const uploading = failure(client.upload(slow()));
    await new Promise((r) => setTimeout(r, 50));
    const closing = servers[0]!.close({ graceMs: 0 });
    const e = await uploading;
    release();
    await closing;
    expect([Code.Unavailable, Code.Cancelled]).toContain(e.code);
    expect(p.stats.retries).toBe(0);
    // Its first chunk reached the handler: sending it again could run it twice.
    expect(neverRan(e)).toBe(false);
  });

  it("an upload a draining server refused is not sent again, and neverRan(error) tells its caller it may be", async () => {
    const [a, b] = [await streamingServer("a", 1), await streamingServer("b", 2)];
    const p = pool([a]);
    await p.whenReady();
    // A call from a client of its own keeps "a" draining, not closed, while the pool's upload arrives.
    const holder = pool([a]);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    async function* held() {
      yield { seq: 1, data: new Uint8Array(1) };
      await gate;
    }
    const holding = createClient(StreamingServiceDefinition, holder).upload(held());
    await until(() => servers[0]!.connections === 2, "both connections");
    await new Promise((r) => setTimeout(r, 50));
    const closing = servers[0]!.close({ graceMs: 10_000 });
    const e = await failure(createClient(StreamingServiceDefinition, p).upload(chunks(3, 8)));
    expect(e.code).toBe(Code.Unavailable);
    expect(p.stats.retries).toBe(0);
    expect(neverRan(e)).toBe(true);
    // The caller can produce its chunks again: it sends the upload elsewhere itself.
    const again = await createClient(StreamingServiceDefinition, pool([b])).upload(chunks(3, 8));
    expect(again).toMatchObject({ chunks: 3, bytes: 24n, note: "b" });
    release();
    expect((await holding).note).toBe("a");
    await closing;
  });

  it("after close(), request streams fail unavailable", async () => {
    const target = await streamingServer("a", 1);
    const p = pool([target]);
    p.close();
    const client = createClient(StreamingServiceDefinition, p);
    expect((await failure(client.upload(chunks(1, 1)))).code).toBe(Code.Unavailable);
  });
});
