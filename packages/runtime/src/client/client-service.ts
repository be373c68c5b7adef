import type { DescMessage } from "@bufbuild/protobuf";
import type { CasePath, MethodBinding } from "../binding/binding.js";
import { createEnvelopeWire, type EnvelopeWire, type WireTarget } from "../envelope/envelope-wire.js";
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
  /** Where the request goes in the request envelope. */
  request: WireTarget;
  /** Where each response is in the response envelope. */
  response: WireTarget;
}

/** The envelope pair of a connection, as a client uses it. */
export interface ClientEnvelopes {
  /** Request envelope wire codec. */
  readonly request: EnvelopeWire;
  /** Response envelope wire codec. */
  readonly response: EnvelopeWire;
  /** The response envelope's error case, if it has one. */
  readonly error: { readonly target: WireTarget; readonly codec: ErrorCaseCodec } | undefined;
}

// The codecs of a transport that carries one service depend on the definition
// alone: built once per definition, shared by every transport (connections
// are cheap to open). Transports that carry several services build their own.
const singleServiceEnvelopes = new WeakMap<ServiceDefinition, ClientEnvelopes>();

/**
 * The wire codecs of an envelope pair for the methods of `defs` (every
 * service a transport carries), with each method pointed at them.
 */
export function createClientEnvelopes(defs: readonly ServiceDefinition[], methods: readonly ClientMethod[]): ClientEnvelopes {
  const first = defs[0];
  if (first === undefined) throw new Error("no service");
  let envelopes = defs.length === 1 ? singleServiceEnvelopes.get(first) : undefined;
  if (envelopes === undefined) {
    envelopes = buildEnvelopes(first, methods);
    if (defs.length === 1) singleServiceEnvelopes.set(first, envelopes);
  }
  for (const m of methods) {
    m.request = envelopes.request.target(m.binding.request);
    m.response = envelopes.response.target(m.binding.response);
  }
  return envelopes;
}

function buildEnvelopes(first: ServiceDefinition, methods: readonly ClientMethod[]): ClientEnvelopes {
  const { binding } = first;
  const requestPaths: CasePath[] = methods.map((m) => m.binding.request);
  const responsePaths: CasePath[] = methods.map((m) => m.binding.response);
  const errorCase = binding.response.error;
  if (errorCase !== undefined) responsePaths.push(errorCase);
  const request = createEnvelopeWire(first.requestEnvelope, binding.request, requestPaths);
  const response = createEnvelopeWire(first.responseEnvelope, binding.response, responsePaths);
  let error: ClientEnvelopes["error"];
  if (errorCase !== undefined) {
    const target = response.target(errorCase);
    error = { target, codec: createErrorCaseCodec(target.schema, errorCase) };
  }
  return { request, response, error };
}

/** The methods of a service definition, not yet pointed at wire codecs. */
export function createClientMethods(def: ServiceDefinition): Map<string, ClientMethod> {
  const methods = new Map<string, ClientMethod>();
  for (const binding of def.binding.methods) {
    const desc = def.service.methods.find((m) => m.name === binding.name);
    if (desc === undefined) throw new Error(`method ${binding.name} is not in ${def.service.typeName}`);
    const unset = { path: binding.request, schema: desc.input } as WireTarget;
    methods.set(binding.localName, {
      binding,
      fullName: `${def.service.typeName}/${binding.name}`,
      input: desc.input,
      request: unset,
      response: unset,
    });
  }
  return methods;
}
