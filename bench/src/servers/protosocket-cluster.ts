// Server process of the protosocket-cluster system: a node:cluster primary (this process,
// answering the coordinator as run.ts describes) and 2 workers, each a protosocket server on
// the port they share; the primary hands connections to the workers round-robin.
import cluster, { type Worker } from "node:cluster";
import type { MessageSet } from "../messages.js";
import { runServer } from "./run.js";

const WORKERS = 2;

if (cluster.isPrimary) {
  await runServer(async () => {
    const system = (await import("../systems/protosocket-scaled.js")).protosocketCluster;
    return {
      ...system,
      async serve(port: number, set: MessageSet) {
        const workers: Worker[] = Array.from({ length: WORKERS }, () =>
          cluster.fork({ BENCH_CLUSTER_PORT: String(port), BENCH_CLUSTER_SET: set }),
        );
        const addresses = await Promise.all(workers.map((w) => new Promise<{ port: number }>((resolve) => w.once("listening", resolve))));
        return {
          port: (addresses[0] as { port: number }).port,
          close: async () => {
            await Promise.all(
              workers.map(
                (w) =>
                  new Promise<void>((resolve) => {
                    if (w.isDead()) return resolve();
                    w.once("exit", () => resolve());
                    w.kill();
                  }),
              ),
            );
          },
        };
      },
    };
  });
} else {
  const { serveProtosocketAt } = await import("../systems/protosocket.js");
  await serveProtosocketAt(
    "127.0.0.1",
    Number(process.env.BENCH_CLUSTER_PORT ?? "0"),
    (process.env.BENCH_CLUSTER_SET ?? "small") as MessageSet,
  );
}
