/**
 * What a service on the standard envelope (protosocket/v1/standard.proto) is
 * bound to: every method's message in the `body` bytes of
 * `protosocket.v1.Request` / `Response`, the error in `Response.error`.
 */
import type { DescField, DescMessage, DescService } from "@bufbuild/protobuf";
import type { EnvelopeFields, ErrorCase, FieldStep, MethodBinding, ServiceBinding } from "../binding/binding.js";
import type { Encoding } from "../encoding/service.js";
import { RequestSchema, ResponseSchema } from "../gen/protosocket/v1/standard_pb.js";
import { StatusSchema } from "../gen/protosocket/v1/status_pb.js";
import type { ServiceDefinition } from "./service-definition.js";

const definitions = new WeakMap<Encoding, WeakMap<DescService, ServiceDefinition>>();

/** The definition of `service` on the standard envelope with `encoding` (a standard encoding); cached per encoding and service. */
export function standardDefinition<S extends DescService>(service: S, encoding: Encoding): ServiceDefinition<S> {
  let byService = definitions.get(encoding);
  if (byService === undefined) {
    byService = new WeakMap();
    definitions.set(encoding, byService);
  }
  let def = byService.get(service);
  if (def === undefined) {
    def = {
      service,
      encoding,
      requestEnvelope: RequestSchema,
      responseEnvelope: ResponseSchema,
      binding: standardBinding(service),
    };
    byService.set(service, def);
  }
  return def as ServiceDefinition<S>;
}

function step(message: DescMessage, name: string): FieldStep & { readonly field: DescField } {
  const field = message.fields.find((f) => f.name === name);
  if (field === undefined) throw new Error(`${message.typeName} has no field ${name}`);
  return { name: field.name, localName: field.localName, number: field.number, field };
}

function plain({ name, localName, number }: FieldStep): FieldStep {
  return { name, localName, number };
}

/** The fields of the standard envelopes, as a binding names them. */
export const standardFields: {
  readonly request: EnvelopeFields;
  readonly response: EnvelopeFields & { readonly error: ErrorCase };
  readonly requestBody: FieldStep;
  readonly responseBody: FieldStep;
} = {
  request: {
    typeName: RequestSchema.typeName,
    id: plain(step(RequestSchema, "message_id")),
    code: plain(step(RequestSchema, "control_code")),
    metadata: plain(step(RequestSchema, "metadata")),
    deadline: plain(step(RequestSchema, "deadline_ms")),
  },
  response: {
    typeName: ResponseSchema.typeName,
    id: plain(step(ResponseSchema, "message_id")),
    code: plain(step(ResponseSchema, "control_code")),
    metadata: plain(step(ResponseSchema, "metadata")),
    error: {
      path: "error",
      steps: [plain(step(ResponseSchema, "error"))],
      typeName: StatusSchema.typeName,
      isStatus: true,
      codeField: "code",
      messageField: "message",
      detailsField: "details",
    },
  },
  requestBody: plain(step(RequestSchema, "body")),
  responseBody: plain(step(ResponseSchema, "body")),
};

/** The binding of a service on the standard envelope: every method's message in `body`. */
function standardBinding(service: DescService): ServiceBinding {
  const methods: MethodBinding[] = service.methods.map((m) => ({
    name: m.name,
    localName: m.localName,
    kind: m.methodKind,
    inputType: m.input.typeName,
    outputType: m.output.typeName,
    request: { path: "body", steps: [standardFields.requestBody], typeName: m.input.typeName },
    response: { path: "body", steps: [standardFields.responseBody], typeName: m.output.typeName },
  }));
  return { typeName: service.typeName, request: standardFields.request, response: standardFields.response, methods };
}
