import type { DescService } from "@bufbuild/protobuf";
import type { ServiceDefinition } from "./service-definition.js";
import { standardDefinition } from "./standard-definition.js";
import { standardEncoding } from "./standard-encoding.js";

/**
 * A service carried by the standard envelope (`protosocket.v1.Request` /
 * `Response`): requests name the method ("package.Service/Method") and
 * carry its message as bytes, so any protobuf service can be served and
 * called with no `(protosocket.v1.envelope)` option and no envelope messages
 * of its own: an existing gRPC-style .proto as it is. Any number of such
 * services share one listener (the server routes by method name); health
 * checks (`registerHealth`) and reflection travel the same way. Client- and
 * bidi-streaming methods are protosocket-ts's extension: Rust
 * protosocket-rpc peers call and serve the unary and server-streaming ones.
 *
 * Generated code calls it (protoc-gen-protosocket with
 * `default_envelope=standard`); call it yourself with a service that
 * protoc-gen-es generated. Cached per service descriptor.
 *
 * ```ts
 * import { ElizaService } from "./gen/eliza_pb.js";
 * const ElizaDefinition = defineStandardService(ElizaService);
 * server.register(ElizaDefinition, { say: (req) => ({ sentence: req.sentence }) });
 * ```
 */
export function defineStandardService<S extends DescService>(service: S): ServiceDefinition<S> {
  return standardDefinition(service, standardEncoding);
}
