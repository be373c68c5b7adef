import { create, type Message } from "@bufbuild/protobuf";
import { RpcError } from "@protosocket/runtime";
import { unaryCaller } from "@protosocket/runtime/protocol";
import { openConnection } from "../connection.js";
import { ExitCode, rpcExitCode } from "../exit-codes.js";
import { findHealthProbe } from "../health/health-probe.js";
import type { CliIo } from "../io.js";
import { connectOptionsFrom, parseTarget, wantsTls, type ConnectionFlags } from "../options/target.js";
import { closeAfterFlush, printRpcError } from "../rpc-output.js";
import { loadSchema, type SchemaFlags } from "../schema/load-schema.js";

/** Flags of `protosocket health`. */
export interface HealthFlags extends SchemaFlags, ConnectionFlags {
  /** `--health-service`: the service that answers health checks. */
  healthService?: string;
  /** `--timeout`, ms (default 5 s). */
  timeout?: number;
  /** `--json`. */
  json?: boolean;
}

/** What `health --json` prints. */
export interface HealthResult {
  /** The service asked about ("" for the server as a whole). */
  readonly service: string;
  /** The status value's name as the schema spells it ("SERVING", "NOT_SERVING"). */
  readonly status: string;
  /** Its number. */
  readonly statusNumber: number;
  readonly serving: boolean;
  /** "pkg.Health/Check": the method that answered. */
  readonly checkedWith: string;
}

/** The default deadline of a health check: a probe must not hang. */
const HEALTH_TIMEOUT_MS = 5000;

/**
 * `protosocket health host:port [service]`, for container probes: calls the
 * schema's health check (see health-probe.ts) and exits 0 when the status
 * is SERVING, 5 when it is anything else, 64 + code when the check fails
 * (grpc.health.v1 servers answer not_found for a service they do not know).
 */
export async function runHealth(targetArg: string, serviceName: string | undefined, flags: HealthFlags, io: CliIo): Promise<number> {
  const target = parseTarget(targetArg);
  // Without --proto or --image, the schema comes from the server, by reflection.
  const schema = await loadSchema(flags, io.cwd, { target, flags: { ...flags, timeout: flags.timeout ?? HEALTH_TIMEOUT_MS } });
  const probe = findHealthProbe(schema, flags.healthService);
  const def = schema.definition(probe.service);
  const init: Record<string, unknown> = {};
  if (probe.serviceField !== undefined) init[probe.serviceField.localName] = serviceName ?? "";
  else if (serviceName !== undefined && serviceName !== "") {
    io.stderr.write(`protosocket: note: ${probe.method.input.typeName} has no "service" field; checking the server as a whole\n`);
  }
  const request = create(probe.method.input, init as never) as Message;
  const transport = await openConnection(
    connectOptionsFrom(target, { ...flags, connectTimeout: flags.connectTimeout ?? HEALTH_TIMEOUT_MS }),
  );
  const controller = new AbortController();
  const off = io.onInterrupt(() => controller.abort(new Error("interrupted (Ctrl-C)")));
  try {
    const response = (await unaryCaller(
      transport,
      def,
      probe.method,
    )(request, {
      signal: controller.signal,
      timeoutMs: flags.timeout ?? HEALTH_TIMEOUT_MS,
    })) as unknown as Record<string, unknown>;
    const number = response[probe.statusField.localName] as number;
    const value = probe.statusField.enum.values.find((v) => v.number === number);
    const result: HealthResult = {
      service: serviceName ?? "",
      status: value?.name ?? String(number),
      statusNumber: number,
      serving: number === probe.serving.number,
      checkedWith: `${probe.service.desc.typeName}/${probe.method.name}`,
    };
    io.stdout.write(flags.json === true ? `${JSON.stringify(result, null, 2)}\n` : `${result.status}\n`);
    return result.serving ? ExitCode.Ok : ExitCode.NotServing;
  } catch (e) {
    if (controller.signal.aborted) {
      io.stderr.write("protosocket: interrupted: health check cancelled\n");
      return ExitCode.Interrupted;
    }
    if (!(e instanceof RpcError)) throw e;
    printRpcError(io.stderr, e, schema.registry, wantsTls(flags));
    return rpcExitCode(e.code);
  } finally {
    off();
    await closeAfterFlush(transport);
  }
}
