import type { DescService } from "@bufbuild/protobuf";
import { encodingOf } from "../encoding/encoding.js";
import type { AnyServiceDefinition, HealthCases as Cases } from "../encoding/service.js";
import { Code, RpcError } from "../errors.js";
import { type Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../gen/protosocket/v1/health_pb.js";
import type { MessagePackService, MessagePackMethodSpec } from "../messagepack/service.js";
import type { ServiceDefinition } from "../protobuf/service-definition.js";
import type { HandlerContext } from "./handler-types.js";
import type { Server } from "./server.js";
import { serverInternals } from "./server-internals.js";

export { ServingStatus };

/** Where the health methods live in a service's envelopes. */
export interface HealthCases extends Cases {
  /**
   * The protosocket.v1.Health descriptor to bind (protobuf): by default the
   * runtime's own; a tool working from other descriptors (a buf image) passes
   * its copy, so calls name its methods.
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

/** The methods of the health service of a MessagePack service. */
export type MessagePackHealthMethods = {
  readonly check: MessagePackMethodSpec<"unary", { service: string }, { status: number }>;
  readonly watch: MessagePackMethodSpec<"server_streaming", { service: string }, { status: number }>;
};

/**
 * The health service (`protosocket.v1.Health`: Check, and Watch streaming,
 * grpc.health.v1's semantics) bound to the envelopes of `def`: what
 * `createClient` takes to check a server's health, and what
 * {@link registerHealth} serves. For protobuf, the envelopes need cases of
 * protosocket.v1.HealthCheckRequest / HealthCheckResponse named
 * `health_check` and `health_watch` (or the case paths in `cases`); for
 * MessagePack, body variants `HealthCheck` and `HealthWatch` (or those
 * named) carrying `{ service: String }` and `{ status: i32 }`.
 *
 * @throws naming the envelope and the cases to add when it has none.
 */
export function healthDefinition(def: ServiceDefinition, cases?: HealthCases): ServiceDefinition<typeof Health>;
export function healthDefinition(def: MessagePackService, cases?: HealthCases): MessagePackService<MessagePackHealthMethods>;
export function healthDefinition(def: AnyServiceDefinition, cases: HealthCases = {}): AnyServiceDefinition {
  return encodingOf(def).health(def, cases);
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
  // Typed as protobuf's for the handlers' sake: they take `{ service }` and return `{ status }` in any encoding.
  const health = encodingOf(first).health(first, cases) as ServiceDefinition<typeof Health>;
  server.register(health, {
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
