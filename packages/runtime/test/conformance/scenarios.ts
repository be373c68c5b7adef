// The end-to-end conformance scenarios: what every runtime (Node, Bun, Deno)
// and every transport must do alike. Each uses only the public API and
// node:assert, against a server started by a ConformanceFactory with
// registerConformance and SERVER_OPTIONS. Run them with vitest
// (conformance.test.ts, over TCP and the memory transport) or with the plain runner (run.ts).
import { strict as assert } from "node:assert";
import { ConformanceServiceDefinition, type ConformanceServiceClient } from "@protosocket/gen/conformance/v1/conformance_protosocket.js";
import { Code, createClient, RpcError, type Transport } from "@protosocket/runtime";
import type { ConformanceTarget } from "./factory.js";
import { SERVER_MAX_FRAME_BYTES } from "./service.js";

/** One scenario: a name and what it checks against a started server. */
export interface Scenario {
  readonly name: string;
  run(target: ConformanceTarget): Promise<void>;
}

/** A long wait that a scenario always cuts short (cancel, deadline). */
const FOREVER_MS = 600_000;

function client(transport: Transport): ConformanceServiceClient {
  return createClient(ConformanceServiceDefinition, transport);
}

/** The RpcError `call` fails with; fails the scenario if it resolves or throws something else. */
async function rpcError(call: Promise<unknown> | (() => Promise<unknown>)): Promise<RpcError> {
  try {
    await (typeof call === "function" ? call() : call);
  } catch (e) {
    assert.ok(e instanceof RpcError, `expected an RpcError, got ${String(e)}`);
    return e;
  }
  assert.fail("expected the call to fail");
}

/** Polls `read` until `ok` holds of its value (at most 10 s; the server reports asynchronously). */
async function eventually<T>(read: () => Promise<T>, ok: (value: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) assert.fail(`${what}; last seen ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A payload whose bytes depend on their position, so a reordered or truncated copy differs. */
function payload(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + (i >> 8)) & 0xff;
  return bytes;
}

/** Checks that the transport still carries calls. */
async function stillWorks(transport: Transport): Promise<void> {
  assert.equal((await client(transport).echo({ message: "still here" })).message, "still here");
}

/** Observed counters, read through the service itself. */
function observed(transport: Transport) {
  return client(transport).observed({});
}

export const scenarios: readonly Scenario[] = [
  {
    name: "unary: text and bytes come back as sent",
    async run({ transport }) {
      const res = await client(transport).echo({ message: "hello, protosocket", payload: payload(1000) });
      assert.equal(res.message, "hello, protosocket");
      assert.deepEqual(res.payload, payload(1000));
      const empty = await client(transport).echo({});
      assert.equal(empty.message, "");
      assert.equal(empty.payload.length, 0);
    },
  },
  {
    name: "many concurrent calls on one connection each get their own answer",
    async run({ transport }) {
      const c = client(transport);
      const texts = Array.from({ length: 2000 }, (_, i) => `call ${i}`);
      const answers = await Promise.all(texts.map((message, i) => c.echo({ message, payload: new Uint8Array([i & 0xff]) })));
      answers.forEach((res, i) => {
        assert.equal(res.message, texts[i]);
        assert.deepEqual(res.payload, new Uint8Array([i & 0xff]));
      });
    },
  },
  {
    name: "server stream: every item in order, then the end",
    async run({ transport }) {
      let last = 0;
      for await (const item of client(transport).count({ count: 5000, payloadSize: 16 })) {
        assert.equal(item.n, last + 1);
        assert.equal(item.payload.length, 16);
        last = item.n;
      }
      assert.equal(last, 5000);
      // Concurrent streams on one connection do not mix.
      const sums = await Promise.all(
        [10, 20, 30].map(async (count) => {
          let sum = 0;
          for await (const item of client(transport).count({ count })) sum += item.n;
          return sum;
        }),
      );
      assert.deepEqual(sums, [55, 210, 465]);
    },
  },
  {
    name: "cancel from the client: the call fails `cancelled` and the handler's signal aborts",
    async run({ transport }) {
      const before = await observed(transport);
      const ac = new AbortController();
      const call = client(transport).sleep({ ms: FOREVER_MS }, { signal: ac.signal });
      await eventually(
        () => observed(transport),
        (o) => o.started > before.started,
        "the handler never started",
      );
      ac.abort();
      assert.equal((await rpcError(call)).code, Code.Cancelled);
      await eventually(
        () => observed(transport),
        (o) => o.aborted > before.aborted,
        "the handler's signal did not abort",
      );
      // A stream cancelled mid-way fails the same way.
      const streamAc = new AbortController();
      const err = await rpcError(async () => {
        for await (const item of client(transport).count({ count: 1_000_000, delayMs: 1 }, { signal: streamAc.signal })) {
          if (item.n === 3) streamAc.abort();
        }
      });
      assert.equal(err.code, Code.Cancelled);
      await stillWorks(transport);
    },
  },
  {
    name: "timeoutMs: the call fails `deadline_exceeded` and the handler's signal aborts",
    async run({ transport }) {
      const before = await observed(transport);
      const err = await rpcError(client(transport).sleep({ ms: FOREVER_MS }, { timeoutMs: 200 }));
      assert.equal(err.code, Code.DeadlineExceeded);
      await eventually(
        () => observed(transport),
        (o) => o.aborted > before.aborted,
        "the handler's signal did not abort",
      );
      const streamErr = await rpcError(async () => {
        for await (const _ of client(transport).count({ count: 1_000_000, delayMs: 5 }, { timeoutMs: 200 })) {
          // consume until the deadline
        }
      });
      assert.equal(streamErr.code, Code.DeadlineExceeded);
      await stillWorks(transport);
    },
  },
  {
    name: "handler errors: an RpcError's code and message reach the client; a plain Error comes as `unknown` without its message",
    async run({ transport }) {
      const c = client(transport);
      for (const code of [
        Code.NotFound,
        Code.InvalidArgument,
        Code.PermissionDenied,
        Code.ResourceExhausted,
        Code.Internal,
        Code.Unavailable,
      ]) {
        const err = await rpcError(c.fail({ code, message: `failed with ${code}` }));
        assert.equal(err.code, code);
        assert.equal(err.rawMessage, `failed with ${code}`);
        assert.match(err.message, /conformance\.v1\.ConformanceService\/Fail/);
      }
      const plain = await rpcError(c.fail({ message: "a plain error", plain: true }));
      assert.equal(plain.code, Code.Unknown);
      // Its text may hold internals: the server sends a generic message (exposeErrorMessages sends it on purpose).
      assert.doesNotMatch(plain.rawMessage, /a plain error/);
      assert.match(plain.rawMessage, /does not send its error's message/);
      await stillWorks(transport);
    },
  },
  {
    name: "an rpc the server has no handler for answers `unimplemented`",
    async run({ transport }) {
      const err = await rpcError(client(transport).unimplemented({ message: "anyone?" }));
      assert.equal(err.code, Code.Unimplemented);
      await stillWorks(transport);
    },
  },
  {
    name: "a large message (most of the server's frame limit) both ways",
    async run({ transport }) {
      const big = payload(SERVER_MAX_FRAME_BYTES - 4096);
      const res = await client(transport).echo({ message: "big", payload: big });
      assert.deepEqual(res.payload, big);
      let items = 0;
      for await (const item of client(transport).count({ count: 3, payloadSize: SERVER_MAX_FRAME_BYTES - 4096 })) {
        assert.equal(item.payload.length, SERVER_MAX_FRAME_BYTES - 4096);
        items++;
      }
      assert.equal(items, 3);
    },
  },
  {
    name: "frame-size limits: over the client's limit fails `resource_exhausted`; over the server's fails `resource_exhausted` naming the limit and loses only that connection",
    async run(target) {
      // A request over the client's own limit is refused before anything is written.
      const small = await target.connect({ maxFrameBytes: 64 * 1024 });
      assert.equal((await rpcError(client(small).echo({ payload: payload(100 * 1024) }))).code, Code.ResourceExhausted);
      await stillWorks(small);
      // A response over the client's limit: a protocol violation, that connection's calls fail.
      const tooBig = await rpcError(async () => {
        for await (const _ of client(small).count({ count: 1, payloadSize: 100 * 1024 })) {
          // never reached
        }
      });
      assert.equal(tooBig.code, Code.ResourceExhausted);
      // A request over the server's limit: the server says why, then closes that connection, and only that one.
      const other = await target.connect();
      const refused = await rpcError(client(other).echo({ payload: payload(SERVER_MAX_FRAME_BYTES + 1024) }));
      assert.equal(refused.code, Code.ResourceExhausted, refused.message);
      assert.match(refused.rawMessage, new RegExp(`exceeds the server's frame limit of ${SERVER_MAX_FRAME_BYTES} bytes`));
      await stillWorks(target.transport);
      await stillWorks(await target.connect());
    },
  },
  {
    name: "a stream left early (break) is cancelled on the server, and the connection goes on",
    async run({ transport }) {
      const before = await observed(transport);
      let received = 0;
      for await (const item of client(transport).count({ count: 1_000_000, delayMs: 1 })) {
        received = item.n;
        if (received === 3) break;
      }
      assert.equal(received, 3);
      await eventually(
        () => observed(transport),
        (o) => o.streamsFinished > before.streamsFinished && o.aborted > before.aborted,
        "the stream's handler was not stopped",
      );
      await stillWorks(transport);
    },
  },
];
