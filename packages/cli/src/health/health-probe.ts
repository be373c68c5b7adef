import { ScalarType, type DescEnumValue, type DescField, type DescMethodUnary } from "@bufbuild/protobuf";
import { defineStandardService } from "@protosocket/runtime";
import { Health } from "@protosocket/runtime/gen/protosocket/v1/health_pb.js";
import { schemaError, usageError } from "../exit-codes.js";
import type { Schema, SchemaService } from "../schema/schema.js";
import { didYouMean } from "../suggest.js";

/**
 * A health-check method `protosocket health` can call: grpc.health.v1's shape
 * on a protosocket envelope. A unary `Check` whose response has a `status`
 * enum with a SERVING value (named `SERVING`, or ending in `_SERVING` as
 * buf's enum style writes it), and whose request may have a string
 * `service` field naming the service asked about ("" = the server as a whole).
 *
 * The runtime's protosocket.v1.Health (bound through the health_check case of
 * the envelopes, see the schema, or a service of the standard envelope) has
 * this shape and is found here like any other service with it; a schema of
 * services on the standard envelope gets it even when it does not declare it.
 */
export interface HealthProbe {
  readonly service: SchemaService;
  readonly method: DescMethodUnary;
  /** The response's status enum field. */
  readonly statusField: DescField & { fieldKind: "enum" };
  /** The enum value that means SERVING. */
  readonly serving: DescEnumValue;
  /** The request's string field naming the service asked about, if it has one. */
  readonly serviceField: (DescField & { fieldKind: "scalar" }) | undefined;
}

function isServingName(name: string): boolean {
  return name === "SERVING" || (name.endsWith("_SERVING") && !name.endsWith("NOT_SERVING"));
}

/** The health probe of a service, if it has the shape. */
export function healthProbeOf(service: SchemaService): HealthProbe | undefined {
  if (service.definition === undefined) return undefined;
  const method = service.desc.methods.find((m) => m.name === "Check");
  if (method === undefined || method.methodKind !== "unary") return undefined;
  const status = method.output.fields.find((f) => f.name === "status");
  if (status === undefined || status.fieldKind !== "enum") return undefined;
  const serving = status.enum.values.find((v) => isServingName(v.name));
  if (serving === undefined) return undefined;
  const svc = method.input.fields.find((f) => f.name === "service");
  const serviceField = svc !== undefined && svc.fieldKind === "scalar" && svc.scalar === ScalarType.STRING ? svc : undefined;
  return { service, method: method as DescMethodUnary, statusField: status, serving, serviceField };
}

/**
 * The health probe to use: the service named by `--health-service`, else the
 * only service with the shape, else the one named `Health`.
 *
 * @throws CliError: schema when the schema has none, usage when the choice is ambiguous or the named service is not one.
 */
export function findHealthProbe(schema: Schema, named: string | undefined): HealthProbe {
  if (named !== undefined) {
    const service = schema.service(named);
    schema.definition(service);
    const probe = healthProbeOf(service);
    if (probe === undefined) {
      throw usageError(
        `--health-service ${service.desc.typeName} has no health check: it needs a unary Check method whose response has a "status" enum with a SERVING value`,
      );
    }
    return probe;
  }
  const probes = schema.services.map(healthProbeOf).filter((p): p is HealthProbe => p !== undefined);
  if (probes.length === 1) return probes[0] as HealthProbe;
  if (probes.length === 0 && schema.services.some((s) => s.standard)) {
    // Services on the standard envelope: registerHealth serves protosocket.v1.Health beside them, by name.
    const standard = healthProbeOf({ desc: Health, definition: defineStandardService(Health), bindingError: undefined, standard: true });
    if (standard !== undefined) return standard;
  }
  if (probes.length === 0) {
    const hint = didYouMean(
      "Health",
      schema.services.map((s) => s.desc.name),
    );
    throw schemaError(
      `no health service in the schema${hint}: protosocket health calls a bound service with a unary Check method whose response has a "status" enum with a SERVING value (grpc.health.v1's shape): add protosocket.v1.HealthCheckRequest/Response health_check and health_watch cases to the envelopes (protosocket/v1/health.proto) and serve them with registerHealth(server), or name another such service with --health-service`,
    );
  }
  const health = probes.filter((p) => p.service.desc.name === "Health");
  if (health.length === 1) return health[0] as HealthProbe;
  throw usageError(
    `several services have a health check (${probes.map((p) => p.service.desc.typeName).join(", ")}); choose one with --health-service`,
  );
}
