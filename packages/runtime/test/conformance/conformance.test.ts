// The conformance scenarios and the call-context matrix over TCP, over the
// in-memory transport and through a pool, with a server in this process (one
// per scenario): all must give the same results.
// run.ts runs the same scenarios outside vitest, under Node, Bun and Deno,
// and across processes.
import { describe, it } from "vitest";
import { contextScenarios } from "./context-scenarios.js";
import { memoryFactory, poolFactory, tcpFactory } from "./factory.js";
import { scenarios } from "./scenarios.js";
import { registerConformance, SERVER_OPTIONS } from "./service.js";

for (const factory of [tcpFactory, memoryFactory, poolFactory]) {
  describe(`conformance scenarios (${factory.name})`, () => {
    it.each(scenarios.map((s) => [s.name, s] as const))("%s", async (_, scenario) => {
      const target = await factory.start(registerConformance, SERVER_OPTIONS);
      try {
        await scenario.run(target);
      } finally {
        await target.stop();
      }
    });
  });
}

// The call-context matrix: every call kind × encoding, on each transport.
for (const factory of [tcpFactory, memoryFactory, poolFactory]) {
  describe(`call-context matrix (${factory.name})`, () => {
    it.each(contextScenarios.map((s) => [s.name, s] as const))("%s", async (_, scenario) => {
      const server = scenario.kit.server();
      const target = await factory.start(server.register, { ...SERVER_OPTIONS, ...server.options });
      try {
        await scenario.run(target);
      } finally {
        await target.stop();
      }
    });
  });
}
