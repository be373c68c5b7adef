/** protosocket.v1.Health bound to the envelopes of a protobuf service. */
import type { DescMessage, DescService } from "@bufbuild/protobuf";
import type { MethodBinding, ServiceBinding } from "../binding/binding.js";
import { BindingError, resolveCasePath } from "../binding/resolve.js";
import type { HealthCases } from "../encoding/service.js";
import { Health, HealthCheckRequestSchema, HealthCheckResponseSchema } from "../gen/protosocket/v1/health_pb.js";
import type { ServiceDefinition } from "./service-definition.js";

const definitions = new WeakMap<ServiceDefinition, Map<string, ServiceDefinition<typeof Health>>>();

/**
 * protosocket.v1.Health bound to the envelopes of `def`: cases of
 * protosocket.v1.HealthCheckRequest / HealthCheckResponse named
 * `health_check` and `health_watch` in both envelopes, or the case paths
 * `cases` names. Cached per definition and cases.
 *
 * @throws BindingError naming the envelope and the cases to add.
 */
export function protobufHealth(def: ServiceDefinition, cases: HealthCases): ServiceDefinition<typeof Health> {
  const check = cases.checkCase ?? "health_check";
  const watch = cases.watchCase ?? "health_watch";
  const service = (cases.service ?? Health) as DescService as typeof Health;
  if (service.typeName !== Health.typeName) throw new TypeError(`healthDefinition: ${service.typeName} is not ${Health.typeName}`);
  const key = `${check}|${watch}`;
  let byCases = service === Health ? definitions.get(def) : undefined;
  const cached = byCases?.get(key);
  if (cached !== undefined) return cached;
  const file = def.service.file.proto.name;
  const methods: MethodBinding[] = [];
  const byName = (name: string) => {
    const m = service.methods.find((x) => x.name === name);
    if (m === undefined) throw new TypeError(`healthDefinition: ${service.typeName} has no method ${name}`);
    return m;
  };
  for (const [desc, path] of [
    [byName("Check"), check],
    [byName("Watch"), watch],
  ] as const) {
    const err = (problem: string) =>
      new BindingError(
        file,
        Health.typeName,
        desc.name,
        `${problem}. Health checks travel in the envelopes of ${def.service.typeName}: add "protosocket.v1.HealthCheckRequest ${path} = N;" to the oneof of ${def.requestEnvelope.typeName} and "protosocket.v1.HealthCheckResponse ${path} = N;" to that of ${def.responseEnvelope.typeName}`,
      );
    methods.push({
      name: desc.name,
      localName: desc.localName,
      kind: desc.methodKind as MethodBinding["kind"],
      inputType: HealthCheckRequestSchema.typeName,
      outputType: HealthCheckResponseSchema.typeName,
      request: resolveCasePath(def.requestEnvelope, path, HealthCheckRequestSchema as DescMessage, "request", err),
      response: resolveCasePath(def.responseEnvelope, path, HealthCheckResponseSchema as DescMessage, "response", err),
    });
  }
  const binding: ServiceBinding = { typeName: Health.typeName, request: def.binding.request, response: def.binding.response, methods };
  const health: ServiceDefinition<typeof Health> = {
    service,
    encoding: def.encoding,
    requestEnvelope: def.requestEnvelope,
    responseEnvelope: def.responseEnvelope,
    binding,
  };
  if (service !== Health) return health;
  if (byCases === undefined) {
    byCases = new Map();
    definitions.set(def, byCases);
  }
  byCases.set(key, health);
  return health;
}
