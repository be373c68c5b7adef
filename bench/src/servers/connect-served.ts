// Server process of the connect-served system (connect-es implementations registered with @protosocket/connect); see run.ts.
import { runServer } from "./run.js";

await runServer(async () => (await import("../systems/connect-transport.js")).connectServedSystem);
