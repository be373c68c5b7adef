/**
 * The MessagePack encoding: builds the envelope codecs of MessagePack
 * service definitions (the runtime reaches it through the definitions'
 * `encoding`, so it is loaded only by applications that define such
 * services).
 */
import { create } from "@bufbuild/protobuf";
import { AnySchema, type Any } from "@bufbuild/protobuf/wkt";
import type { MethodBinding } from "../binding/binding.js";
import type { AnyServiceDefinition, RpcMethod } from "../encoding/service.js";
import type { EnvelopeCodecs, ErrorChannel, MethodCodec, ServiceEncoding } from "../encoding/encoding.js";
import { Code } from "../errors.js";
import { messagePackFraming } from "../wire/messagepack-framing.js";
import { MessagePackEnvelopeWire, type MessagePackTarget } from "./envelope-wire.js";
import { messagePackHealth } from "./health.js";
import { capitalise, type CaseSpec, type MessagePackMethod, type MessagePackService } from "./service.js";

/** The details an error struct's details field carries (`Vec<Detail>`, `Detail { type_url, value }`), as google.protobuf.Any. */
function readDetails(value: unknown): Any[] {
  if (!Array.isArray(value)) return [];
  const out: Any[] = [];
  for (const d of value as unknown[]) {
    const detail = d as { type_url?: unknown; value?: unknown } | null;
    if (detail !== null && typeof detail === "object" && typeof detail.type_url === "string" && detail.value instanceof Uint8Array) {
      out.push(create(AnySchema, { typeUrl: detail.type_url, value: detail.value }));
    }
  }
  return out;
}

/** The value as it is: MessagePack messages are plain values, checked by their schemas when written. */
const asIs = (value: unknown): unknown => value;

/** The MessagePack {@link Encoding}; `check` validates a definition when it is made. */
export const messagePackEncoding: ServiceEncoding & { check(def: MessagePackService): void } = {
  name: "MessagePack",
  createCodecs: (defs) => createCodecs(defs as readonly MessagePackService[]),
  clash(a, b) {
    const x = (a as MessagePackService).spec;
    const y = (b as MessagePackService).spec;
    if (x.request === y.request && x.response === y.response && x.error === y.error) return undefined;
    return `${b.service.typeName} and ${a.service.typeName} do not share their envelopes (the same request, response and error objects); one connection (and one listener) carries one envelope pair`;
  },
  health: (def, cases) => messagePackHealth(def as MessagePackService, cases, createCodecs),
  check(def) {
    createCodecs([def]);
  },
};

function createCodecs(defs: readonly MessagePackService[]): EnvelopeCodecs {
  const first = defs[0];
  if (first === undefined) throw new Error("no service definition");
  const request = new MessagePackEnvelopeWire(first.spec.request);
  const response = new MessagePackEnvelopeWire(first.spec.response);
  const methods: MethodCodec[] = [];
  const byRequest = new Map<MessagePackTarget, MethodCodec>();
  for (const def of defs) {
    for (const method of def.service.methods as readonly MessagePackMethod[]) {
      const spec = method.spec;
      const owner = `${def.service.typeName}/${method.name}`;
      if (spec.kind !== "unary" && spec.kind !== "server_streaming") {
        throw new TypeError(
          `${owner}: MessagePack services have unary and server-streaming methods (those of the Rust crate), not ${String(spec.kind)}`,
        );
      }
      const defaultCase: CaseSpec = { variant: capitalise(method.localName) };
      const requestCase = spec.requestCase ?? (first.spec.request.bodyEnum === false ? {} : defaultCase);
      const responseCase = spec.responseCase ?? (first.spec.response.bodyEnum === false ? {} : defaultCase);
      const requestTarget = request.register(requestCase, spec.request, `${owner} (request)`);
      const other = byRequest.get(requestTarget);
      if (other !== undefined) {
        throw new TypeError(
          `${owner}: its request case ${requestTarget.path.path} is that of ${other.fullName}; a server could not tell them apart`,
        );
      }
      const responseTarget = response.register(responseCase, spec.response, `${owner} (response)`);
      const binding: MethodBinding = {
        name: method.name,
        localName: method.localName,
        kind: spec.kind,
        inputType: spec.request.description,
        outputType: spec.response.description,
        request: requestTarget.path,
        response: responseTarget.path,
      };
      const codec: MethodCodec = {
        service: def as AnyServiceDefinition,
        desc: method,
        binding,
        fullName: owner,
        request: requestTarget,
        response: responseTarget,
        toRequest: asIs,
        toResponse: asIs,
      };
      methods.push(codec);
      byRequest.set(requestTarget, codec);
    }
  }
  let error: ErrorChannel | undefined;
  const errorSpec = first.spec.error;
  if (errorSpec !== undefined) {
    const codeField = errorSpec.codeField ?? "code";
    const messageField = errorSpec.messageField ?? "message";
    const detailsField = errorSpec.detailsField;
    for (const f of detailsField === undefined ? [codeField, messageField] : [codeField, messageField, detailsField]) {
      if (!errorSpec.schema.fieldNames.includes(f))
        throw new TypeError(`${first.service.typeName}: the error struct ${errorSpec.schema.name} has no field "${f}"`);
    }
    const target = response.register(errorSpec.case ?? { variant: "Error" }, errorSpec.schema, `${first.service.typeName} (error case)`);
    if (methods.some((m) => m.response === target))
      throw new TypeError(`${first.service.typeName}: the error case ${target.path.path} is also a method's response case`);
    error = {
      target,
      codec: {
        read(value) {
          const v = value as Record<string, unknown>;
          const raw = Number(v[codeField]);
          const details = detailsField === undefined ? [] : readDetails(v[detailsField]);
          return { code: raw >= 1 && raw <= 16 ? (raw as Code) : Code.Unknown, message: String(v[messageField]), details };
        },
        write: (e) => {
          const out: Record<string, unknown> = { [codeField]: e.code, [messageField]: e.rawMessage };
          if (detailsField !== undefined) out[detailsField] = e.details.map((d) => ({ type_url: d.typeUrl, value: d.value }));
          return out;
        },
      },
    };
  }
  const byDesc = new Map<RpcMethod, MethodCodec>(methods.map((m) => [m.desc, m]));
  return {
    framing: messagePackFraming,
    request,
    response,
    error,
    sendsDeadline: Object.values(first.spec.request.fields).includes("deadline"),
    methods,
    method: (desc) => byDesc.get(desc),
    route: (target) => byRequest.get(target as MessagePackTarget),
  };
}
