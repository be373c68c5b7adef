#!/usr/bin/env node
// Calls a tally service through a pool and prints where the calls went:
//   tally-client --target 127.0.0.1:7001,127.0.0.1:7002 --calls 3000
//   tally-client --target dns:///tally.default.svc.cluster.local:7000 --picker round-robin
import { Command, Option } from "commander";
import { createClient, createPool, type PoolOptions } from "@protosocket/runtime";

type PickerName = NonNullable<PoolOptions["picker"]>;
import { TallyServiceDefinition } from "@protosocket/gen/cluster/v1/tally_protosocket.js";
import { parseNumber } from "./server.js";

const opts = new Command("tally-client")
  .description("Calls cluster.v1.TallyService through a pool and counts the answers per server")
  .requiredOption("--target <target>", 'host:port, a comma-separated list, "dns:///name:port", "srv:///_svc._tcp.name" or "unix:///path"')
  .option("--calls <n>", "calls to make", parseNumber("--calls"), 3000)
  .option("--concurrency <n>", "calls in flight", parseNumber("--concurrency"), 16)
  .option("--connections <n>", "connections per server", parseNumber("--connections", 1024), 1)
  .addOption(
    new Option("--picker <picker>", "how calls pick a connection")
      .choices(["least-outstanding", "round-robin", "key-hash"])
      .default("least-outstanding"),
  )
  .option("--max-age-ms <ms>", "replace connections after this long (behind an L4 proxy)", parseNumber("--max-age-ms"))
  .parse()
  .opts<{ target: string; calls: number; concurrency: number; connections: number; picker: PickerName; maxAgeMs?: number }>();

const pool = createPool(opts.target, {
  connectionsPerAddress: opts.connections,
  picker: opts.picker,
  ...(opts.maxAgeMs !== undefined ? { maxConnectionAgeMs: opts.maxAgeMs } : {}),
});
const tally = createClient(TallyServiceDefinition, pool);
const perServer = new Map<string, number>();
let next = 0;
let failed = 0;
await Promise.all(
  Array.from({ length: Math.max(1, opts.concurrency) }, async () => {
    while (next < opts.calls) {
      const n = next++;
      try {
        const answer = await tally.get({ key: `key-${n % 100}` }, { timeoutMs: 5000, key: `key-${n % 100}` });
        perServer.set(answer.server, (perServer.get(answer.server) ?? 0) + 1);
      } catch (e) {
        failed++;
        if (failed <= 3) console.error(e instanceof Error ? e.message : e);
      }
    }
  }),
);
for (const [server, calls] of [...perServer].sort()) console.log(`${server.padEnd(20)} ${calls} calls`);
const stats = pool.stats;
console.log(`failed ${failed}; retries ${stats.retries}; picks ${stats.picks}`);
for (const a of stats.addresses)
  console.log(`  ${a.address.padEnd(24)} ${a.state.padEnd(17)} up ${a.connectionsUp} down ${a.connectionsDown} picks ${a.picks}`);
pool.close();
process.exit(failed === 0 ? 0 : 1);
