// Server process of the raw system(s); see run.ts.
import { runServer } from "./run.js";

await runServer(async () => (await import("../systems/raw.js")).raw);
