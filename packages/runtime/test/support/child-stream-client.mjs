// A client in its own process, for tests that kill it mid-call (reliability-faults.test.ts).
// Usage: node child-stream-client.mjs <port> [stalled]
// Opens a Count stream (a million items, 2 ms apart) and five unary calls
// that sleep a minute; prints "STREAMING n" as items arrive (every 10th), and
// never finishes by itself. With "stalled", the stream carries 1 KiB items
// with no delay and is never read past its first item (the server's writes
// back up); it prints "STALLED" instead.
import { connect, createClient } from "@protosocket/runtime";
import { EchoServiceDefinition } from "@protosocket/gen/echo/v1/echo_protosocket.js";

const stalled = process.argv[3] === "stalled";
const transport = await connect({ port: Number(process.argv[2]) });
const client = createClient(EchoServiceDefinition, transport);
for (let i = 0; i < 5; i++) client.echo({ message: "sleep:60000" }).catch(() => {});
if (stalled) {
  const it = client.count({ count: 1_000_000, payloadSize: 1024 })[Symbol.asyncIterator]();
  await it.next();
  console.log("STALLED");
  setInterval(() => {}, 60_000); // stay alive, never read again
} else {
  for await (const item of client.count({ count: 1_000_000, delayMs: 2 })) {
    if (item.n % 10 === 0) console.log(`STREAMING ${item.n}`);
  }
}
