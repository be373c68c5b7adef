/** The health service bound to the envelopes of a MessagePack service. */
import type { HealthCases } from "../encoding/service.js";
import type { EnvelopeCodecs } from "../encoding/encoding.js";
import { i32, string, struct } from "./schema.js";
import { buildMessagePackService, serverStreaming, unary, type MessagePackService } from "./service.js";

/** grpc.health.v1's HealthCheckRequest as a serde struct: `struct HealthCheckRequest { service: String }`. */
export const HealthCheckRequest = struct<{ service: string }>("HealthCheckRequest", { service: string });
/**
 * grpc.health.v1's HealthCheckResponse as a serde struct:
 * `struct HealthCheckResponse { status: i32 }`, the ServingStatus numbers
 * (0 unknown, 1 serving, 2 not serving, 3 service unknown).
 */
export const HealthCheckResponse = struct<{ status: number }>("HealthCheckResponse", { status: i32 });

const definitions = new WeakMap<MessagePackService, Map<string, MessagePackService>>();

/**
 * The health service (`protosocket.v1.Health`: Check, and Watch streaming)
 * bound to the envelopes of `def`: its body enum's variants `HealthCheck`
 * and `HealthWatch` (or those `cases` names) carry
 * {@link HealthCheckRequest} and {@link HealthCheckResponse}. Cached per
 * definition and cases.
 *
 * @throws TypeError when the envelopes cannot carry it (a body that is not an enum).
 */
export function messagePackHealth(
  def: MessagePackService,
  cases: HealthCases,
  check: (defs: readonly MessagePackService[]) => EnvelopeCodecs,
): MessagePackService {
  const checkCase = cases.checkCase ?? "HealthCheck";
  const watchCase = cases.watchCase ?? "HealthWatch";
  const key = `${checkCase}|${watchCase}`;
  let byCases = definitions.get(def);
  const cached = byCases?.get(key);
  if (cached !== undefined) return cached;
  const { request, response, error } = def.spec;
  if (request.bodyEnum === false || response.bodyEnum === false) {
    throw new TypeError(
      `health checks travel in the envelopes of ${def.service.typeName} as variants of their body enums (${checkCase}, ${watchCase}); its envelopes' bodies are not enums`,
    );
  }
  const health = buildMessagePackService(
    {
      typeName: "protosocket.v1.Health",
      request,
      response,
      ...(error !== undefined ? { error } : {}),
      methods: {
        check: unary(HealthCheckRequest, HealthCheckResponse, { request: { variant: checkCase }, response: { variant: checkCase } }),
        watch: serverStreaming(HealthCheckRequest, HealthCheckResponse, {
          request: { variant: watchCase },
          response: { variant: watchCase },
        }),
      },
    },
    def.encoding,
  );
  check([health as unknown as MessagePackService]);
  if (byCases === undefined) {
    byCases = new Map();
    definitions.set(def, byCases);
  }
  byCases.set(key, health as unknown as MessagePackService);
  return health as unknown as MessagePackService;
}
