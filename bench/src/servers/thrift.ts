// Server process of the thrift system(s); see run.ts.
import { runServer } from "./run.js";

await runServer(async () => (await import("../systems/thrift.js")).thriftSystem);
