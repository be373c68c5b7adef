// Server process of the protosocket-cluster system: a node:cluster primary (this process,
// answering the coordinator as run.ts describes) and 2 workers, each a protosocket server on
// the port they share; the primary hands connections to the workers round-robin.
import cluster, { type Worker } from "node:cluster";
import { runServer } from "./run.js";

const WORKERS = 2;

if (cluster.isPrimary) {
  await runServer(async () => {
    const system = (await import("../systems/protosocket-scaled.js")).protosocketCluster;
    return {
      ...system,
      async serve(port: number) {
        const workers: Worker[] = Array.from({ length: WORKERS }, () => cluster.fork({ BENCH_CLUSTER_PORT: String(port) }));
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
  const { serveAt } = await import("../systems/protosocket-scaled.js");
  await serveAt("127.0.0.1", Number(process.env["BENCH_CLUSTER_PORT"] ?? "0"));
}
