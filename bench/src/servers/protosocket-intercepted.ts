// Server process of the protosocket-intercepted system (a pass-through interceptor on every call); see run.ts.
import { runServer } from "./run.js";

await runServer(async () => (await import("../systems/protosocket.js")).protosocketIntercepted);
