// Server process of the connect-node system(s); see run.ts.
import { runServer } from "./run.js";

await runServer(async () => (await import("../systems/connect-node.js")).connectGrpc);
