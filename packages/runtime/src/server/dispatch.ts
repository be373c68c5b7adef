import type { DescMessage, DescMethod, Message } from "@bufbuild/protobuf";
import type { MethodBinding } from "../binding/binding.js";
import { createCaseAccessor, type CaseAccessor } from "../envelope/case-accessor.js";
import type { EnvelopeMessage } from "../envelope/envelope-codec.js";

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
  /** Reads the request out of a request envelope. */
  readonly request: CaseAccessor;
  /** Writes a response into a response envelope. */
  readonly response: CaseAccessor;
  /** The handler, or undefined for a method left unimplemented. */
  readonly handler: ((request: never, ctx: never) => unknown) | undefined;
}

/** Finds the method whose case a request envelope carries. */
export interface Dispatcher {
  /** The method and its request, or undefined when no registered case is set. */
  match(envelope: EnvelopeMessage): { method: ServerMethod; request: Message } | undefined;
  /** Adds a method. */
  add(method: ServerMethod): void;
}

/**
 * Creates a {@link Dispatcher}. Methods are grouped by their first path step
 * so a request is matched with one property read of the envelope's oneof
 * (plus the rest of the path for wrapped commands).
 */
export function createDispatcher(): Dispatcher {
  // First-step oneof case → candidates, per oneof property.
  const byOneof = new Map<string, Map<string, ServerMethod[]>>();
  // First-step plain fields → candidates.
  const byField = new Map<string, ServerMethod[]>();

  return {
    add(method) {
      const first = method.binding.request.steps[0];
      if (first === undefined) throw new Error(`method ${method.fullName} has an empty request path`);
      if (first.oneof !== undefined) {
        let cases = byOneof.get(first.oneof);
        if (cases === undefined) byOneof.set(first.oneof, (cases = new Map()));
        const list = cases.get(first.localName) ?? [];
        list.push(method);
        cases.set(first.localName, list);
      } else {
        const list = byField.get(first.localName) ?? [];
        list.push(method);
        byField.set(first.localName, list);
      }
    },
    match(envelope) {
      for (const [oneof, cases] of byOneof) {
        const c = (envelope[oneof] as { case: string | undefined }).case;
        if (c === undefined) continue;
        const list = cases.get(c);
        if (list === undefined) continue;
        for (const method of list) {
          const request = method.request.get(envelope);
          if (request !== undefined) return { method, request };
        }
      }
      for (const [field, list] of byField) {
        if (envelope[field] === undefined) continue;
        for (const method of list) {
          const request = method.request.get(envelope);
          if (request !== undefined) return { method, request };
        }
      }
      return undefined;
    },
  };
}

/** Builds the {@link ServerMethod} of a binding. */
export function createServerMethod(
  binding: MethodBinding,
  serviceTypeName: string,
  desc: DescMethod,
  requestEnvelope: DescMessage,
  responseEnvelope: DescMessage,
  handler: ServerMethod["handler"],
): ServerMethod {
  return {
    binding,
    fullName: `${serviceTypeName}/${binding.name}`,
    desc,
    output: desc.output,
    request: createCaseAccessor(requestEnvelope, binding.request),
    response: createCaseAccessor(responseEnvelope, binding.response),
    handler,
  };
}
