// One protosocket echo server on a given address, for the protosocket-3proc system (its
// server process starts three of these): `node dist/servers/protosocket-at.js --host 127.0.0.2
// --port 7000` prints `LISTENING <port>` and exits when its stdin ends (or on EXIT).
import { createInterface } from "node:readline";
import { Command } from "commander";
import type { MessageSet } from "../messages.js";
import { serveProtosocketAt } from "../systems/protosocket.js";

const options = new Command()
  .option("--host <host>", "address", "127.0.0.1")
  .option("--port <port>", "port (0 = any)", "0")
  .option("--set <set>", "the message set to serve (small, realistic, grpc)", "small")
  .parse()
  .opts<{ host: string; port: string; set: string }>();
const server = await serveProtosocketAt(options.host, Number(options.port), options.set as MessageSet);
process.stdout.write(`LISTENING ${server.port}\n`);
const exit = () => void server.close().finally(() => process.exit(0));
const lines = createInterface({ input: process.stdin });
lines.on("line", (line) => {
  if (line.trim() === "EXIT") exit();
});
lines.on("close", exit);
