/**
 * The protobuf encoding: envelopes that are protobuf messages the user
 * declares, bound to services by the `(protosocket.v1.*)` options
 * (binding/resolve.ts), framed by varint length prefixes.
 */
import { create, type DescMessage } from "@bufbuild/protobuf";
import type { CasePath, MethodBinding } from "../binding/binding.js";
import { findRequestClash } from "../binding/resolve.js";
import type { WireTarget } from "../encoding/envelope-wire.js";
import type { RpcMethod } from "../encoding/service.js";
import type { EnvelopeCodecs, ErrorChannel, MethodCodec, ServiceEncoding } from "../encoding/encoding.js";
import { varintFraming } from "../wire/framing.js";
import { createEnvelopeWire } from "./create-envelope-wire.js";
import type { ServiceDefinition } from "./service-definition.js";
import { createErrorCaseCodec } from "./error-case.js";
import { protobufHealth } from "./health.js";

/** The protobuf {@link Encoding}: every definition `defineService` makes carries it. */
export const protobufEncoding: ServiceEncoding = {
  name: "protobuf",
  createCodecs: (defs) => createProtobufCodecs(defs as readonly ServiceDefinition[]),
  clash: (a, b) => protobufClash(a as ServiceDefinition, b as ServiceDefinition),
  health: (def, cases) => protobufHealth(def as ServiceDefinition, cases),
};

/** The codecs of protobuf services sharing one envelope pair, from their bindings. */
function createProtobufCodecs(defs: readonly ServiceDefinition[]): EnvelopeCodecs {
  const first = defs[0];
  if (first === undefined) throw new Error("no service definition");
  const errorCase = first.binding.response.error;
  const pending: { def: ServiceDefinition; desc: RpcMethod & { input: DescMessage; output: DescMessage }; binding: MethodBinding }[] = [];
  for (const def of defs) {
    for (const binding of def.binding.methods) {
      const desc = def.service.methods.find((m) => m.name === binding.name);
      if (desc === undefined) throw new Error(`method ${binding.name} is not in ${def.service.typeName}`);
      pending.push({ def, desc, binding });
    }
  }
  if (defs.length > 1) {
    const clash = findRequestClash(pending.map((m) => m.binding));
    if (clash !== undefined) {
      const owner = (b: MethodBinding) => pending.find((m) => m.binding === b)?.def.service.typeName ?? "";
      throw new Error(
        `${owner(clash[1])}: request case "${clash[1].request.path}" of ${clash[1].name} clashes with "${clash[0].request.path}" of ${clash[0].name}`,
      );
    }
  }
  const responsePaths: CasePath[] = pending.map((m) => m.binding.response);
  if (errorCase !== undefined) responsePaths.push(errorCase);
  const request = createEnvelopeWire(
    first.requestEnvelope,
    first.binding.request,
    pending.map((m) => m.binding.request),
  );
  const response = createEnvelopeWire(first.responseEnvelope, first.binding.response, responsePaths);
  const methods: MethodCodec[] = pending.map(({ def, desc, binding }) => ({
    service: def,
    desc,
    binding,
    fullName: `${def.service.typeName}/${binding.name}`,
    request: request.target(binding.request),
    response: response.target(binding.response),
    toRequest: (value) => create(desc.input, value as never),
    toResponse: (value) => create(desc.output, value as never),
  }));
  const byDesc = new Map<RpcMethod, MethodCodec>(methods.map((m) => [m.desc, m]));
  const byRequest = new Map<WireTarget, MethodCodec>(methods.map((m) => [m.request, m]));
  let error: ErrorChannel | undefined;
  if (errorCase !== undefined) {
    const target = response.target(errorCase);
    error = { target, codec: createErrorCaseCodec(target.schema, errorCase) };
  }
  return {
    framing: varintFraming,
    request,
    response,
    error,
    sendsDeadline: first.binding.request.deadline !== undefined,
    methods,
    method: (desc) => byDesc.get(desc),
    route: (target) => byRequest.get(target),
  };
}

/**
 * Why two protobuf services cannot share one connection or listener: they
 * must use the same envelope pair, read the message id and control code
 * from the same fields, and have the same error case.
 */
function protobufClash(a: ServiceDefinition, b: ServiceDefinition): string | undefined {
  if (a.requestEnvelope.typeName !== b.requestEnvelope.typeName || a.responseEnvelope.typeName !== b.responseEnvelope.typeName) {
    return `${b.service.typeName} uses envelopes ${b.requestEnvelope.typeName}/${b.responseEnvelope.typeName}, but ${a.service.typeName} uses ${a.requestEnvelope.typeName}/${a.responseEnvelope.typeName}; one connection (and one listener) carries one envelope pair`;
  }
  const ra = a.binding.request;
  const rb = b.binding.request;
  const sa = a.binding.response;
  const sb = b.binding.response;
  const same =
    ra.id.number === rb.id.number &&
    ra.code.number === rb.code.number &&
    ra.metadata?.number === rb.metadata?.number &&
    ra.deadline?.number === rb.deadline?.number &&
    sa.id.number === sb.id.number &&
    sa.code.number === sb.code.number &&
    sa.metadata?.number === sb.metadata?.number &&
    sa.error?.path === sb.error?.path;
  if (same) return undefined;
  return `${b.service.typeName} reads the message id, control code, metadata or deadline of ${b.requestEnvelope.typeName}/${b.responseEnvelope.typeName} from other fields (or has another error case) than ${a.service.typeName}; services sharing envelopes must bind them alike`;
}
