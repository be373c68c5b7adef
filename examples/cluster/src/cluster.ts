#!/usr/bin/env node
// A tally server on every core with node:cluster. The primary process owns the
// listening socket and hands each new connection to a worker (round-robin on
// Linux); each worker is a plain protosocket server.
//
//   SIGHUP           rolling restart: for each worker, start a new one, wait
//                    until it listens, then drain the old one with
//                    close({ graceMs }) — no call is lost (docs/deploy.md)
//   SIGTERM, SIGINT  drain every worker, then exit
//
// Prints "LISTENING host:port" once every worker listens, "RESTARTED n" after
// the n-th rolling restart.
import cluster, { type Worker } from "node:cluster";
import { availableParallelism } from "node:os";
import { Command } from "commander";
import { listeningLine, parseNumber, startTallyServer } from "./server.js";

interface Options {
  workers: number;
  host: string;
  port: number;
  graceMs: number;
}

const opts = new Command("tally-cluster")
  .description("Serves cluster.v1.TallyService on every core (node:cluster); SIGHUP restarts the workers one by one")
  .option("--workers <n>", "worker processes (default: one per core)", parseNumber("--workers", 1024), availableParallelism())
  .option("--host <host>", "interface to bind", "127.0.0.1")
  .option("--port <port>", "port to bind (0 picks a free one)", parseNumber("a port", 65535), 7000)
  .option("--grace-ms <ms>", "how long a draining worker's calls may finish", parseNumber("--grace-ms"), 10_000)
  .parse()
  .opts<Options>();

/** A message from the primary to a worker. */
interface PrimaryMessage {
  cmd: "drain";
}

if (cluster.isPrimary) {
  await runPrimary(opts);
} else {
  await runWorker(opts);
}

async function runPrimary(o: Options): Promise<void> {
  if (o.workers < 1) throw new Error("--workers must be at least 1");
  const workers = new Set<Worker>();
  const draining = new Set<Worker>();
  let named = 0;
  let shuttingDown = false;
  let restarts = 0;
  let restarting: Promise<void> = Promise.resolve();

  const fork = (): Worker => {
    const w = cluster.fork({ TALLY_WORKER_NAME: `worker-${++named}` });
    workers.add(w);
    w.once("exit", (code, signal) => {
      workers.delete(w);
      if (draining.delete(w) || shuttingDown) return;
      // A worker that died on its own is replaced.
      console.error(`worker ${w.process.pid} exited (${signal ?? code}); starting another`);
      fork();
    });
    return w;
  };
  const listening = (w: Worker) => new Promise<{ address: string; port: number }>((resolve) => w.once("listening", resolve));
  /** Tells a worker to stop accepting and finish its calls (close({ graceMs })); resolves when it has exited. */
  const drain = (w: Worker) =>
    new Promise<void>((resolve) => {
      draining.add(w);
      w.once("exit", () => resolve());
      w.send({ cmd: "drain" } satisfies PrimaryMessage);
    });

  const first = await Promise.all(Array.from({ length: o.workers }, () => listening(fork())));
  const at = first[0] as { address: string; port: number };
  console.log(listeningLine({ host: at.address, port: at.port }));

  const rollingRestart = async () => {
    for (const old of [...workers]) {
      if (shuttingDown) return;
      if (draining.has(old)) continue;
      await listening(fork());
      await drain(old);
    }
    console.log(`RESTARTED ${++restarts}`);
  };
  process.on("SIGHUP", () => {
    restarting = restarting.then(rollingRestart);
  });
  const shutdown = () => {
    if (shuttingDown) return;
    shuttingDown = true;
    void Promise.all([...workers].map(drain)).then(() => process.exit(0));
  };
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);
}

async function runWorker(o: Options): Promise<void> {
  const name = process.env.TALLY_WORKER_NAME ?? `worker-${process.pid}`;
  const { server } = await startTallyServer({ name, host: o.host, port: o.port });
  // The primary decides when workers stop (a terminal's Ctrl-C reaches every process of the group).
  process.on("SIGINT", () => {});
  process.on("SIGTERM", () => {});
  process.on("message", (m: PrimaryMessage) => {
    if (m.cmd !== "drain") return;
    void server.close({ graceMs: o.graceMs }).then(() => process.exit(0));
  });
}
