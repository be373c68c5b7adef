// Server process of the protosocket system(s); see run.ts.
import { runServer } from "./run.js";

await runServer(async () => (await import("../systems/protosocket.js")).protosocket);
