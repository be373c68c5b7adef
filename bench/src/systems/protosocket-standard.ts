// protosocket-standard: protosocket-ts with the same services, messages and handlers as
// `protosocket`, carried by the standard envelope (protosocket.v1.Request / Response, the
// method named in each request, its message as bytes) instead of envelopes bound to them:
// what serving an existing gRPC-style .proto as it is costs against a bound envelope.
// defineStandardService takes the generated service descriptors; their envelope options
// play no part there.

import { BenchService } from "@protosocket/gen/bench/v1/bench_pb.js";
import { EchoService } from "@protosocket/gen/echo/v1/echo_pb.js";
import { StreamingService } from "@protosocket/gen/streaming/v1/streaming_pb.js";
import { defineStandardService } from "@protosocket/runtime";
import type { System } from "../system.js";
import { connectWith, serveProtosocketWith, type ProtosocketDefinitions } from "./protosocket.js";

const STANDARD: ProtosocketDefinitions = {
  echo: defineStandardService(EchoService),
  bench: defineStandardService(BenchService),
  streaming: defineStandardService(StreamingService),
};

export const protosocketStandard: System = {
  name: "protosocket-standard",
  description: "protosocket-ts on the standard envelope (methods named in protosocket.v1.Request), one connection",
  server: "protosocket-standard",
  requestStreams: true,
  serve: (port, set, workload) => serveProtosocketWith(STANDARD, port, set, workload),
  connect: connectWith(1, false, STANDARD),
};
