// Server process of the protosocket-3proc system: three server processes (protosocket-at.js)
// on 127.0.0.1, .2 and .3, one port; see run.ts and systems/protosocket-scaled.ts.
import { runServer } from "./run.js";

await runServer(async () => (await import("../systems/protosocket-scaled.js")).protosocket3proc);
