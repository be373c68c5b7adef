// Server process of the protosocket-standard system (the standard envelope); see run.ts.
import { runServer } from "./run.js";

await runServer(async () => (await import("../systems/protosocket-standard.js")).protosocketStandard);
