// The conformance scenarios over TCP, with a server in this process (one per
// scenario). run.ts runs the same scenarios outside vitest, under Node, Bun
// and Deno, and across processes.
import { describe, it } from "vitest";
import { tcpFactory } from "./factory.js";
import { scenarios } from "./scenarios.js";
import { registerConformance, SERVER_OPTIONS } from "./service.js";

describe(`conformance scenarios (${tcpFactory.name})`, () => {
  it.each(scenarios.map((s) => [s.name, s] as const))("%s", async (_, scenario) => {
    const target = await tcpFactory.start(registerConformance, SERVER_OPTIONS);
    try {
      await scenario.run(target);
    } finally {
      await target.stop();
    }
  });
});
