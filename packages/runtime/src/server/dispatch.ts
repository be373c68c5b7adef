import type { DescMessage, DescMethod } from "@bufbuild/protobuf";
import type { MethodBinding } from "../binding/binding.js";
import type { EnvelopeWire, WireTarget } from "../envelope/envelope-wire.js";
import { createErrorCaseCodec, type ErrorCaseCodec } from "../envelope/error-case.js";
import type { ServiceDefinition } from "../service/service-definition.js";
import { createEnvelopeWire } from "../envelope/envelope-wire.js";

/** A registered method, ready to serve. */
export interface ServerMethod {
  /** The method's binding. */
  readonly binding: MethodBinding;
  /** "package.Service/Method". */
  readonly fullName: string;
  /** The method's descriptor. */
  readonly desc: DescMethod;
  /** The output schema. */
  readonly output: DescMessage;
  /** The handler, or undefined for a method left unimplemented. */
  readonly handler: ((request: never, ctx: never) => unknown) | undefined;
}

/** A method together with where its messages are in the envelopes. */
export interface RoutedMethod extends ServerMethod {
  /** Where the request is in the request envelope. */
  readonly request: WireTarget;
  /** Where each response goes in the response envelope. */
  readonly response: WireTarget;
}

/** The envelope pair a server speaks and the method each request case routes to. */
export interface ServerEnvelopes {
  /** Request envelope wire codec. */
  readonly request: EnvelopeWire;
  /** Response envelope wire codec. */
  readonly response: EnvelopeWire;
  /** The response envelope's error case, if it has one. */
  readonly error: { readonly target: WireTarget; readonly codec: ErrorCaseCodec } | undefined;
  /** Request case → method. */
  readonly routes: Map<WireTarget, RoutedMethod>;
}

/** Builds the wire codecs and routes of every registered method (of services sharing one envelope pair). */
export function createServerEnvelopes(def: ServiceDefinition, methods: readonly ServerMethod[]): ServerEnvelopes {
  const { binding } = def;
  const errorCase = binding.response.error;
  const responsePaths = methods.map((m) => m.binding.response);
  if (errorCase !== undefined) responsePaths.push(errorCase);
  const request = createEnvelopeWire(def.requestEnvelope, binding.request, methods.map((m) => m.binding.request));
  const response = createEnvelopeWire(def.responseEnvelope, binding.response, responsePaths);
  const routes = new Map<WireTarget, RoutedMethod>();
  for (const m of methods) {
    const routed: RoutedMethod = { ...m, request: request.target(m.binding.request), response: response.target(m.binding.response) };
    routes.set(routed.request, routed);
  }
  let error: ServerEnvelopes["error"];
  if (errorCase !== undefined) {
    const target = response.target(errorCase);
    error = { target, codec: createErrorCaseCodec(target.schema, errorCase) };
  }
  return { request, response, error, routes };
}
