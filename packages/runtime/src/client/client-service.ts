import type { DescMessage } from "@bufbuild/protobuf";
import type { MethodBinding } from "../binding/binding.js";
import { createCaseAccessor, type CaseAccessor } from "../envelope/case-accessor.js";
import { createEnvelopeCodec, type EnvelopeCodec } from "../envelope/envelope-codec.js";
import { createErrorCaseCodec, type ErrorCaseCodec } from "../envelope/error-case.js";
import type { ServiceDefinition } from "../service/service-definition.js";

/** What a client needs of one method, prepared once. */
export interface ClientMethod {
  /** The method's binding. */
  readonly binding: MethodBinding;
  /** "package.Service/Method", for errors. */
  readonly fullName: string;
  /** The input schema. */
  readonly input: DescMessage;
  /** Writes the request into a request envelope. */
  readonly request: CaseAccessor;
  /** Reads the response out of a response envelope. */
  readonly response: CaseAccessor;
}

/** The codecs of one envelope pair, as a client uses them. */
export interface ClientEnvelopes {
  /** Request envelope codec. */
  readonly request: EnvelopeCodec;
  /** Response envelope codec. */
  readonly response: EnvelopeCodec;
  /** The response envelope's error case, if it has one. */
  readonly error: ErrorCaseCodec | undefined;
}

/** Builds the envelope codecs of a service definition. */
export function createClientEnvelopes(def: ServiceDefinition): ClientEnvelopes {
  const { binding } = def;
  return {
    request: createEnvelopeCodec(def.requestEnvelope, binding.request),
    response: createEnvelopeCodec(def.responseEnvelope, binding.response),
    error: binding.response.error !== undefined ? createErrorCaseCodec(def.responseEnvelope, binding.response.error) : undefined,
  };
}

/** Prepares every method of a service definition for calls. */
export function createClientMethods(def: ServiceDefinition): Map<string, ClientMethod> {
  const methods = new Map<string, ClientMethod>();
  for (const binding of def.binding.methods) {
    const desc = def.service.methods.find((m) => m.name === binding.name);
    if (desc === undefined) throw new Error(`method ${binding.name} is not in ${def.service.typeName}`);
    methods.set(binding.localName, {
      binding,
      fullName: `${def.service.typeName}/${binding.name}`,
      input: desc.input,
      request: createCaseAccessor(def.requestEnvelope, binding.request),
      response: createCaseAccessor(def.responseEnvelope, binding.response),
    });
  }
  return methods;
}
