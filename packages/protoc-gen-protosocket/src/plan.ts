import { createRegistry, type DescFile, type DescService } from "@bufbuild/protobuf";
import type { Schema } from "@bufbuild/protoplugin";
import {
  BindingError,
  defineStandardService,
  findRequestClash,
  isBoundService,
  resolveServiceBinding,
  type MethodBinding,
  type ServiceBinding,
} from "@protosocket/runtime/protocol";
import type { Options } from "./options.js";

/** A service with its resolved binding, ready to print. */
export interface BoundService {
  readonly service: DescService;
  /** Its binding; for a service on the standard envelope, the standard one. */
  readonly binding: ServiceBinding;
  /** True for a service on the standard envelope (no envelope option, `default_envelope=standard`). */
  readonly standard: boolean;
}

/** What one run generates: the bound services of each file to generate, in order. */
export interface Plan {
  readonly files: readonly { readonly file: DescFile; readonly services: readonly BoundService[] }[];
}

/** All binding errors of a run, one per line, each naming file, service, method and fix. */
export class GenerateError extends Error {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(problems.length === 1 ? (problems[0] as string) : `${problems.length} binding errors:\n${problems.join("\n")}`);
    this.name = "GenerateError";
    this.problems = problems;
  }
}

/**
 * Resolves the binding of every service in the files to generate, and checks
 * what no single service can: services sharing a request envelope must not
 * have clashing request cases. Throws {@link GenerateError} with every problem
 * found; reports unbound services through `warn` (or as errors, by option).
 */
export function planGeneration(schema: Schema<Options>, warn: (message: string) => void): Plan {
  const registry = createRegistry(...schema.allFiles);
  const problems: string[] = [];
  const files: { file: DescFile; services: BoundService[] }[] = [];
  const all: BoundService[] = [];

  for (const file of schema.files) {
    const services: BoundService[] = [];
    for (const service of file.services) {
      if (!isBoundService(service) && schema.options.defaultEnvelope === "standard") {
        const bound: BoundService = { service, binding: defineStandardService(service).binding, standard: true };
        services.push(bound);
        warnRequestStreams(bound, warn);
        continue;
      }
      if (!isBoundService(service)) {
        switch (schema.options.unboundServices) {
          case "error":
            problems.push(
              `${file.proto.name}: service ${service.typeName}: no (protosocket.v1.envelope) option; bind it with option (protosocket.v1.envelope) = { request: "MyRequestEnvelope" response: "MyResponseEnvelope" }; or add default_envelope=standard to generate it for the standard envelope, or drop unbound_services=error to skip such services`,
            );
            break;
          case "warn":
            warn(
              `protoc-gen-protosocket: skipping service ${service.typeName}: no (protosocket.v1.envelope) option (${file.proto.name}); add default_envelope=standard to generate it for the standard envelope`,
            );
            break;
          case "ignore":
            break;
        }
        continue;
      }
      try {
        const bound: BoundService = { service, binding: resolveServiceBinding(service, registry), standard: false };
        services.push(bound);
        all.push(bound);
        warnRequestStreams(bound, warn);
      } catch (e) {
        if (e instanceof BindingError) {
          problems.push(e.message);
        } else {
          throw e;
        }
      }
    }
    if (services.length > 0) {
      files.push({ file, services });
    }
  }

  problems.push(...findSharedEnvelopeClashes(all));
  if (problems.length > 0) {
    throw new GenerateError(problems);
  }
  return { files };
}

/**
 * Client- and bidi-streaming methods are generated, with a warning each:
 * they are an extension of protosocket-ts that Rust protosocket-rpc peers can
 * neither serve nor call.
 */
function warnRequestStreams({ service, binding }: BoundService, warn: (message: string) => void): void {
  for (const m of binding.methods) {
    if (m.kind !== "client_streaming" && m.kind !== "bidi_streaming") continue;
    warn(
      `protoc-gen-protosocket: ${service.file.proto.name}: service ${service.typeName}, method ${m.name}: ${m.kind === "client_streaming" ? "client streaming" : "bidi streaming"} is an extension of protosocket-ts: Rust protosocket-rpc peers can neither serve nor call it`,
    );
  }
}

/** Services that share a request envelope: one server serves them all, so their cases must differ. */
function findSharedEnvelopeClashes(services: readonly BoundService[]): string[] {
  const byEnvelope = new Map<string, BoundService[]>();
  for (const s of services) {
    const group = byEnvelope.get(s.binding.request.typeName);
    if (group === undefined) byEnvelope.set(s.binding.request.typeName, [s]);
    else group.push(s);
  }
  const problems: string[] = [];
  for (const [envelope, group] of byEnvelope) {
    if (group.length < 2) continue;
    const first = group[0] as BoundService;
    const optional = (label: string, f: ServiceBinding["request"]["metadata"]) =>
      f === undefined ? "" : `, ${label} ${f.name} = ${f.number}`;
    const fields = (b: ServiceBinding) =>
      `${b.request.id.name} = ${b.request.id.number}, ${b.request.code.name} = ${b.request.code.number}${optional("metadata", b.request.metadata)}${optional("deadline", b.request.deadline)}`;
    const disagreeing = group.find((s) => fields(s.binding) !== fields(first.binding));
    if (disagreeing !== undefined) {
      problems.push(
        new BindingError(
          disagreeing.service.file.proto.name,
          disagreeing.service.typeName,
          undefined,
          `reads the message id and control code of the request envelope ${envelope} from ${fields(disagreeing.binding)}, but service ${first.service.typeName} (${first.service.file.proto.name}), which shares it, reads them from ${fields(first.binding)}; a server serving both must read every request alike: name the same fields in both envelope options`,
        ).message,
      );
      continue;
    }
    const owner = new Map<MethodBinding, BoundService>();
    for (const s of group) for (const m of s.binding.methods) owner.set(m, s);
    const clash = findRequestClash([...owner.keys()]);
    if (clash === undefined) continue;
    const [a, b] = clash;
    const sa = owner.get(a) as BoundService;
    const sb = owner.get(b) as BoundService;
    problems.push(
      new BindingError(
        sb.service.file.proto.name,
        sb.service.typeName,
        b.name,
        `request case "${b.request.path}" clashes with "${a.request.path}" of method ${a.name} of service ${sa.service.typeName} (${sa.service.file.proto.name}), which shares the request envelope ${envelope}: a server serving both could not tell them apart; give one of the methods its own case in the envelope and name it with option (protosocket.v1.method) = { request_case: "..." }, or bind the services to separate envelopes`,
      ).message,
    );
  }
  return problems;
}
