// The client-streaming and bidi workloads for protosocket-ts: streaming.v1.StreamingService
// (Upload, Chat) from proto/streaming/v1, bound to its envelopes at run time like the echo
// service in protosocket.ts. The same handlers as every system: Upload counts chunks and
// bytes, Chat answers each message with itself (Ping, unmeasured, answers with its request).

import { ECHO_MESSAGE, type BenchChat } from "../system.js";
import { SMALL_PAYLOAD_BYTES } from "../messages.js";

/** The shapes of the runtime's streaming client that this file relies on. */
export interface StreamingClient {
  upload(requests: AsyncIterable<{ seq: number; data: Uint8Array }>): Promise<{ chunks: number }>;
  chat(requests: AsyncIterable<{ seq: number; text: string; payload: Uint8Array }>): AsyncIterable<{ seq: number }>;
}

/** The handlers, as registered on the runtime's server. */
export interface StreamingImpl {
  upload(requests: AsyncIterable<{ seq: number; data: Uint8Array }>): Promise<{ chunks: number; bytes: bigint; lastSeq: number }>;
  chat(requests: AsyncIterable<unknown>): AsyncIterable<unknown>;
  ping(request: unknown): unknown;
}

export const streamingImpl: StreamingImpl = {
  async upload(requests) {
    let chunks = 0;
    let bytes = 0;
    let lastSeq = 0;
    for await (const chunk of requests) {
      chunks++;
      bytes += chunk.data.length;
      lastSeq = chunk.seq;
    }
    return { chunks, bytes: BigInt(bytes), lastSeq };
  },
  async *chat(requests) {
    for await (const m of requests) yield m;
  },
  ping(request) {
    return request;
  },
};

/** One upload, produced as fast as the call pulls it, until `stop()`. */
export async function protosocketUpload(client: StreamingClient, stop: () => boolean): Promise<number> {
  const data = new Uint8Array(SMALL_PAYLOAD_BYTES).fill(0x61);
  const summary = await client.upload(
    (async function* () {
      for (let seq = 1; !stop(); seq++) yield { seq, data };
    })(),
  );
  return summary.chunks;
}

/** A bidi Chat call for ping-pong: its requests are a queue that roundTrip() feeds. */
export function protosocketOpenChat(client: StreamingClient): BenchChat {
  const payload = new Uint8Array(SMALL_PAYLOAD_BYTES).fill(0x61);
  let pull: ((r: IteratorResult<{ seq: number; text: string; payload: Uint8Array }>) => void) | undefined;
  let pending: IteratorResult<{ seq: number; text: string; payload: Uint8Array }> | undefined;
  const offer = (r: IteratorResult<{ seq: number; text: string; payload: Uint8Array }>) => {
    if (pull !== undefined) {
      const p = pull;
      pull = undefined;
      p(r);
    } else {
      pending = r;
    }
  };
  const requests: AsyncIterable<{ seq: number; text: string; payload: Uint8Array }> = {
    [Symbol.asyncIterator]: () => ({
      next: () => {
        if (pending !== undefined) {
          const r = pending;
          pending = undefined;
          return Promise.resolve(r);
        }
        return new Promise((resolve) => (pull = resolve));
      },
      return: () => Promise.resolve({ value: undefined, done: true }),
    }),
  };
  const responses = client.chat(requests)[Symbol.asyncIterator]();
  let seq = 0;
  return {
    async roundTrip() {
      offer({ value: { seq: ++seq, text: ECHO_MESSAGE, payload }, done: false });
      const r = await responses.next();
      if (r.done === true) throw new Error("chat ended early");
    },
    async close() {
      // End the requests; the server then ends the call.
      offer({ value: undefined, done: true });
      for (;;) if ((await responses.next()).done === true) break;
    },
  };
}
