// Server process of the protosocket-msgpack system; see run.ts.
import { runServer } from "./run.js";

await runServer(async () => (await import("../systems/protosocket-msgpack.js")).protosocketMsgpack);
