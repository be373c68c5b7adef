// The conformance scenarios without a test framework, for any runtime:
//
//   node packages/runtime/test/conformance/dist/run.js               server and client in this process, over TCP
//   bun  packages/runtime/test/conformance/dist/run.js
//   deno run -A packages/runtime/test/conformance/dist/run.js
//   … run.js --serve [--port N]       only the server: prints "LISTENING host:port", serves until stdin closes
//   … run.js --connect host:port      only the client, against a server started with --serve (any runtime)
//   … run.js --pool [--connect host:port]   the same, the client's transports pools of 2 connections
//
// In one process (no --connect), the call-context matrix (context-scenarios.ts)
// runs too: every call kind × encoding, its servers started here.
//
// dist/ is built by `npm run build` (tsconfig.json here). Prints one line per
// scenario and a closing "N passed, N failed" line; exits 1 when one failed.
import { createServer } from "@protosocket/runtime";
import { contextScenarios } from "./context-scenarios.js";
import { type ConformanceFactory, type ConformanceTarget, poolFactory, remoteFactory, tcpFactory } from "./factory.js";
import { scenarios } from "./scenarios.js";
import { registerConformance, SERVER_OPTIONS } from "./service.js";

const argv = process.argv.slice(2);
/** With --pool, the client's transports are pools (of 2 connections) instead of single connections. */
const pooled = argv.includes("--pool");
const args = argv.filter((a) => a !== "--pool");

function usage(message: string): never {
  process.stderr.write(`conformance: ${message}\nusage: run.js [--serve [--port N] | [--pool] [--connect host:port]]\n`);
  process.exit(2);
}

function runtimeName(): string {
  const g = globalThis as { Bun?: { version: string }; Deno?: { version: { deno: string } } };
  if (g.Bun !== undefined) return `bun ${g.Bun.version}`;
  if (g.Deno !== undefined) return `deno ${g.Deno.version.deno}`;
  return `node ${process.versions.node}`;
}

async function serve(port: number): Promise<void> {
  const server = createServer(SERVER_OPTIONS);
  registerConformance(server);
  const address = await server.listen({ host: "127.0.0.1", port });
  process.stdout.write(`LISTENING ${address.host}:${address.port} (${runtimeName()})\n`);
  // Serve until the parent closes our stdin (or ends us).
  process.stdin.resume();
  await new Promise<void>((resolve) => {
    process.stdin.on("end", resolve);
    process.stdin.on("close", resolve);
    process.on("SIGTERM", resolve);
  });
  await server.close({ graceMs: 0 });
  process.exit(0);
}

/** A scenario to run: its name, and how it starts its server and runs against it. */
interface Runnable {
  readonly name: string;
  start(factory: ConformanceFactory): Promise<ConformanceTarget>;
  run(target: ConformanceTarget): Promise<void>;
}

/**
 * Runs the scenarios on `factory`; with `matrix`, the call-context matrix too
 * (its servers are started here, one per scenario, so not against a remote
 * server).
 */
async function runScenarios(factory: ConformanceFactory, matrix: boolean): Promise<void> {
  const runnables: Runnable[] = scenarios.map((s) => ({
    name: s.name,
    start: (f) => f.start(registerConformance, SERVER_OPTIONS),
    run: (t) => s.run(t),
  }));
  if (matrix) {
    for (const s of contextScenarios) {
      runnables.push({
        name: s.name,
        start: (f) => {
          const server = s.kit.server();
          return f.start(server.register, { ...SERVER_OPTIONS, ...server.options });
        },
        run: (t) => s.run(t),
      });
    }
  }
  let passed = 0;
  let failed = 0;
  process.stdout.write(`conformance: ${runnables.length} scenarios, ${factory.name}, client on ${runtimeName()}\n`);
  for (const scenario of runnables) {
    const started = Date.now();
    try {
      const target = await scenario.start(factory);
      try {
        await scenario.run(target);
      } finally {
        await target.stop();
      }
      passed++;
      process.stdout.write(`  ok    ${scenario.name} (${Date.now() - started} ms)\n`);
    } catch (e) {
      failed++;
      process.stdout.write(
        `  FAIL  ${scenario.name}\n        ${String(e instanceof Error ? (e.stack ?? e.message) : e).replace(/\n/g, "\n        ")}\n`,
      );
    }
  }
  process.stdout.write(`${passed} passed, ${failed} failed\n`);
  process.exit(failed === 0 ? 0 : 1);
}

if (args[0] === "--serve") {
  if (pooled) usage("--pool is a client option; --serve takes only --port");
  const port = args[1] === "--port" ? Number(args[2]) : 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) usage(`bad port "${args[2]}"`);
  await serve(port);
} else if (args[0] === "--connect") {
  const match = /^(.+):(\d+)$/.exec(args[1] ?? "");
  if (match === null) usage(`--connect needs host:port, not "${args[1] ?? ""}"`);
  await runScenarios(remoteFactory(match[1] as string, Number(match[2]), pooled ? 2 : undefined), false);
} else if (args.length === 0) {
  await runScenarios(pooled ? poolFactory : tcpFactory, true);
} else {
  usage(`unknown arguments: ${args.join(" ")}`);
}
