import type { DescService } from "@bufbuild/protobuf";
import type { ServiceDefinition } from "./service-definition.js";
import { standardDefinition } from "./standard-definition.js";
import { standardEncoding, standardProbeEncoding } from "./standard-encoding.js";

/** Options of {@link defineStandardService}. */
export interface StandardServiceOptions {
  /**
   * For clients that do not know which envelope the server speaks (a tool
   * asking for reflection): each request frame starts with the probe byte
   * (0x00), which servers of the standard envelope skip and servers of other
   * envelopes refuse, closing the connection rather than misreading the
   * frame. A connection carries probing and plain definitions apart.
   * Servers register plain definitions (they read both).
   */
  probe?: boolean;
}

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
export function defineStandardService<S extends DescService>(service: S, options: StandardServiceOptions = {}): ServiceDefinition<S> {
  return standardDefinition(service, options.probe === true ? standardProbeEncoding : standardEncoding);
}
