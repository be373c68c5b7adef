// Does the Node Thrift client really keep many calls in flight on one connection?
// The server holds every Echo reply until no new request has arrived for a moment, and
// records how many it held at once: with a client that waited for each reply before
// sending the next call, that would be 1.

import { afterEach, expect, test } from "vitest";
import {
  connectThrift,
  generated,
  serveThrift,
  thriftHandler,
  type ThriftEchoHandler,
  type ThriftEchoResponse,
} from "../src/systems/thrift.js";
import type { BenchServer } from "../src/system.js";

const CONCURRENCY = 256;
/** How long without a new request before the held replies are released (not a timing assertion). */
const QUIET_MS = 200;

let server: BenchServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

test(`one Thrift connection carries ${CONCURRENCY} calls at once`, async () => {
  const held: (() => void)[] = [];
  let maxHeld = 0;
  let quiet: NodeJS.Timeout | undefined;
  const release = () => {
    for (const reply of held.splice(0)) reply();
  };
  const handler: ThriftEchoHandler = {
    ...thriftHandler,
    Echo(request, result) {
      held.push(() => result(null, new generated.types.EchoResponse({ message: request.message, payload: request.payload })));
      maxHeld = Math.max(maxHeld, held.length);
      clearTimeout(quiet);
      if (held.length === CONCURRENCY) release();
      else quiet = setTimeout(release, QUIET_MS);
    },
  };
  server = await serveThrift(0, handler);

  const { connection, client } = await connectThrift({ host: "127.0.0.1", port: server.port });
  try {
    const calls: Promise<ThriftEchoResponse>[] = [];
    for (let i = 0; i < CONCURRENCY; i++) {
      calls.push(client.Echo(new generated.types.EchoRequest({ message: `call ${i}`, payload: Buffer.from([i & 0xff]) })));
    }
    const responses = await Promise.all(calls);
    // Every reply reached its own caller (seqid routing), not just some reply.
    responses.forEach((response, i) => {
      expect(response.message).toBe(`call ${i}`);
      expect([...response.payload]).toEqual([i & 0xff]);
    });
    expect(maxHeld).toBe(CONCURRENCY);
  } finally {
    connection.end();
  }
});
