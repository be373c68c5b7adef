// Server process of the grpc-js system(s); see run.ts.
import { runServer } from "./run.js";

await runServer(async () => (await import("../systems/grpc-js.js")).grpcJs);
