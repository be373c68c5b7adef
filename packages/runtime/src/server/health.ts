import type { DescMessage, DescService } from "@bufbuild/protobuf";
import type { MethodBinding, ServiceBinding } from "../binding/binding.js";
import { BindingError, resolveCasePath } from "../binding/resolve.js";
import { isEncoded } from "../service/rpc-service.js";
import { Code, RpcError } from "../errors.js";
import {
  Health,
  HealthCheckRequestSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthCheckResponseSchema,
} from "../gen/protosocket/v1/health_pb.js";
import type { ServiceDefinition } from "../service/service-definition.js";
import type { HandlerContext } from "./handler-types.js";
import type { Server } from "./server.js";
import { serverInternals } from "./server-internals.js";

export { ServingStatus };

/** Where the health methods live in the envelopes. */
export interface HealthCases {
  /** Case path of Check in both envelopes. Default "health_check". */
  checkCase?: string;
  /** Case path of Watch in both envelopes. Default "health_watch". */
  watchCase?: string;
  /**
   * The protosocket.v1.Health descriptor to bind: by default the runtime's
   * own; a tool working from other descriptors (a buf image) passes its copy,
   * so calls name its methods.
   */
  service?: DescService;
}

/** Sets the statuses a server's health service reports. */
export interface HealthReporter {
  /** Sets the status of `service` (a fully-qualified name, or "" for the whole server) and tells its watchers. */
  setStatus(service: string, status: ServingStatus): void;
  /** The status of `service`, or undefined when it is not known. */
  status(service: string): ServingStatus | undefined;
}

const definitions = new WeakMap<ServiceDefinition, Map<string, ServiceDefinition<typeof Health>>>();

/**
 * The health service bound to the envelopes of `def` (a service whose
 * envelopes have `health_check` and `health_watch` cases of
 * protosocket.v1.HealthCheckRequest / HealthCheckResponse, or the cases
 * named in `cases`): what `createClient` takes to check a server's health,
 * and what {@link registerHealth} serves.
 *
 * @throws BindingError naming the envelope and the cases to add.
 */
export function healthDefinition(def: ServiceDefinition, cases: HealthCases = {}): ServiceDefinition<typeof Health> {
  const check = cases.checkCase ?? "health_check";
  const watch = cases.watchCase ?? "health_watch";
  const service = (cases.service ?? Health) as typeof Health;
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

/**
 * Serves health checks (grpc.health.v1's semantics: Check and a streaming
 * Watch) on `server`, through the envelopes of the services registered on it
 * so far: call it after registering them, before listen(). The server and
 * each registered service start SERVING; once graceful shutdown begins
 * (`close()`), all report NOT_SERVING, so a load balancer drains the server
 * while calls in flight finish.
 *
 * @throws BindingError when the envelopes have no health cases (the message says what to add).
 */
export function registerHealth(server: Server, cases: HealthCases = {}): HealthReporter {
  const internals = serverInternals(server);
  const defs = internals.definitions();
  const first = defs[0];
  if (first === undefined)
    throw new RpcError(
      Code.FailedPrecondition,
      "register the server's services before registerHealth(): health checks travel in their envelopes",
    );
  if (isEncoded(first)) {
    throw new RpcError(
      Code.FailedPrecondition,
      `registerHealth() binds protosocket.v1.Health to protobuf envelopes; ${first.service.typeName} is a ${first.encoding.name} service`,
    );
  }
  const statuses = new Map<string, ServingStatus>([["", ServingStatus.SERVING]]);
  for (const d of defs) statuses.set(d.service.typeName, ServingStatus.SERVING);
  const watchers = new Set<(service: string) => void>();
  const reporter: HealthReporter = {
    setStatus(service, status) {
      if (statuses.get(service) === status) return;
      statuses.set(service, status);
      for (const w of [...watchers]) w(service);
    },
    status: (service) => statuses.get(service),
  };
  internals.onClosing(() => {
    for (const service of [...statuses.keys()]) reporter.setStatus(service, ServingStatus.NOT_SERVING);
  });
  server.register(healthDefinition(first, cases), {
    check(req) {
      const status = statuses.get(req.service);
      if (status === undefined) throw new RpcError(Code.NotFound, `unknown service "${req.service}"`);
      return { status };
    },
    async *watch(req, ctx: HandlerContext) {
      // Every change, in order: a status set and set back before the watcher ran is still seen.
      const queue: ServingStatus[] = [statuses.get(req.service) ?? ServingStatus.SERVICE_UNKNOWN];
      let wake: (() => void) | undefined;
      const watcher = (service: string) => {
        if (service !== req.service) return;
        queue.push(statuses.get(service) ?? ServingStatus.SERVICE_UNKNOWN);
        wake?.();
      };
      watchers.add(watcher);
      const aborted = new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
      try {
        let last: ServingStatus | undefined;
        while (!ctx.signal.aborted) {
          const status = queue.shift();
          if (status === undefined) {
            await Promise.race([new Promise<void>((resolve) => (wake = resolve)), aborted]);
            wake = undefined;
            continue;
          }
          if (status !== last) {
            last = status;
            yield { status };
          }
        }
      } finally {
        watchers.delete(watcher);
      }
    },
  });
  return reporter;
}
