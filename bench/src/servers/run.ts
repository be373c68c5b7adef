// The server side of every system: `node dist/servers/<server>.js --port 0 --set <set>`
// starts the server of that message set on 127.0.0.1, prints `LISTENING <port>`, then
// answers a line protocol on stdin:
//   STATS  → `STATS {"cpuUserUs":…,"cpuSystemUs":…,"rss":…,"heapUsed":…}` (process.cpuUsage, memoryUsage)
//   EXIT   → closes and exits (so does the end of stdin).

import { createInterface } from "node:readline";
import { Command } from "commander";
import { MESSAGE_SETS, type MessageSet } from "../messages.js";
import type { System, WorkloadKind } from "../system.js";

export interface ProcessStats {
  cpuUserUs: number;
  cpuSystemUs: number;
  rss: number;
  heapUsed: number;
}

export function processStats(): ProcessStats {
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  return { cpuUserUs: cpu.user, cpuSystemUs: cpu.system, rss: memory.rss, heapUsed: memory.heapUsed };
}

export async function runServer(load: () => Promise<System>): Promise<void> {
  const options = new Command()
    .option("--port <port>", "TCP port on 127.0.0.1 (0 = any free port)", "0")
    .option("--set <set>", "the message set to serve (small, realistic, grpc)", "small")
    .option("--workload <kind>", "the workload this server is for (systems that serve some workloads on another service pick by it)")
    .parse()
    .opts<{ port: string; set: string; workload?: string }>();
  if (!(MESSAGE_SETS as readonly string[]).includes(options.set)) throw new Error(`unknown message set "${options.set}"`);
  const system = await load();
  const server = await system.serve(Number(options.port), options.set as MessageSet, options.workload as WorkloadKind | undefined);
  process.stdout.write(`LISTENING ${server.port}\n`);

  let exiting = false;
  const exit = (): void => {
    if (exiting) return;
    exiting = true;
    // Connections may be open; the coordinator is done with this process either way.
    const timer = setTimeout(() => process.exit(0), 500);
    void server.close().finally(() => {
      clearTimeout(timer);
      process.exit(0);
    });
  };
  const lines = createInterface({ input: process.stdin });
  lines.on("line", (line) => {
    const command = line.trim();
    if (command === "STATS") process.stdout.write(`STATS ${JSON.stringify(processStats())}\n`);
    else if (command === "EXIT") exit();
  });
  lines.on("close", exit);
}
