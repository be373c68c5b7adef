/**
 * MessagePack services, defined in TypeScript the way a Rust service using
 * protosocket-messagepack defines them with serde: the messages' types and
 * schemas, the two envelope structs (which field is the id, which the
 * control code, which carries the body), and for each method the case of
 * the body that carries its messages.
 */
import type { MethodKind } from "../binding/binding.js";
import type { AnyServiceDefinition, Encoding, RpcMethod } from "../encoding/service.js";
import type { Schema, StructSchema } from "./schema.js";

/** Method kinds a MessagePack service has: those of the Rust protosocket-rpc crate. */
export type MessagePackMethodKind = Extract<MethodKind, "unary" | "server_streaming">;

/**
 * Which case of an envelope's body carries a method's message: an enum
 * variant of the body (`variant`), and/or values of other envelope fields
 * that name the method (`set`, such as the example-messagepack request's
 * `response_behavior`). Every frame of the method is written with them; a
 * received envelope is the method's when all of them match.
 */
export interface CaseSpec {
  /** The body enum's variant that holds the message (envelopes whose body is an enum). */
  readonly variant?: string;
  /** Values of the envelope's other fields that name the method, by field name. */
  readonly set?: Readonly<Record<string, unknown>>;
}

/** One method of a MessagePack service: its kind, the schemas of its messages, and its cases. */
export interface MessagePackMethodSpec<K extends MessagePackMethodKind = MessagePackMethodKind, I = unknown, O = unknown> {
  /** Unary or server streaming. */
  readonly kind: K;
  /** The request message's schema. */
  readonly request: Schema<I>;
  /** The response message's schema (each item's, for a stream). */
  readonly response: Schema<O>;
  /** The request envelope's case; default: the variant named like the method, capitalised ("echo" → "Echo"). */
  readonly requestCase?: CaseSpec;
  /** The response envelope's case; default as for the request. */
  readonly responseCase?: CaseSpec;
}

/** The cases of a method, when they are not the default variant. */
export interface CaseSpecs {
  /** The request envelope's case. */
  readonly request?: CaseSpec;
  /** The response envelope's case. */
  readonly response?: CaseSpec;
}

/** A unary method: one request, one response. */
export function unary<I, O>(request: Schema<I>, response: Schema<O>, cases: CaseSpecs = {}): MessagePackMethodSpec<"unary", I, O> {
  return { kind: "unary", request, response, ...withCases(cases) };
}

/** A server-streaming method: one request, a stream of responses ended by End. */
export function serverStreaming<I, O>(
  request: Schema<I>,
  response: Schema<O>,
  cases: CaseSpecs = {},
): MessagePackMethodSpec<"server_streaming", I, O> {
  return { kind: "server_streaming", request, response, ...withCases(cases) };
}

function withCases(cases: CaseSpecs): { requestCase?: CaseSpec; responseCase?: CaseSpec } {
  return {
    ...(cases.request !== undefined ? { requestCase: cases.request } : {}),
    ...(cases.response !== undefined ? { responseCase: cases.response } : {}),
  };
}

/**
 * What an envelope field is: the message id (u64), the control code (u32),
 * the body (`Option` of the body enum, or of the message itself), metadata
 * (`Option<HashMap<String, String>>`: request metadata or trailers) or the
 * milliseconds left to the deadline (u64, 0 for none).
 */
export type FieldRole = "id" | "code" | "body" | "metadata" | "deadline";

/** An envelope field of the user's own, with the value frames carry when no method's case sets it. */
export interface FieldSpec<T = unknown> {
  /** Its schema. */
  readonly schema: Schema<T>;
  /** Its value in frames that do not set it (Cancel, End, a method whose case does not name it). Default: the schema's zero (nil, 0, "", the first unit variant). */
  readonly default?: T;
}

/** One envelope struct: its fields in declaration order. */
export interface EnvelopeSpec {
  /** The struct's name (for messages). */
  readonly name: string;
  /** The fields, in the Rust declaration order: a role, or a field of the user's own (a schema, or a schema and its default). */
  readonly fields: Readonly<Record<string, FieldRole | Schema<unknown> | FieldSpec>>;
  /**
   * True (the default) when the body field is an `Option` of an enum whose
   * variants carry the methods' messages (`Option<EchoResponseKind>`);
   * false when it holds the message itself (`Option<EchoRequest>`) and
   * other fields tell the methods apart (their cases' `set`).
   */
  readonly bodyEnum?: boolean;
}

/** The response envelope's error case: where it is, and its message's code and message fields. */
export interface ErrorCaseSpec {
  /** Where the error travels; default: the variant "Error". */
  readonly case?: CaseSpec;
  /** The error message's schema: a struct with an integer code (the gRPC code numbers) and a message string. */
  readonly schema: StructSchema<object>;
  /** Its code field. Default "code". */
  readonly codeField?: string;
  /** Its message field. Default "message". */
  readonly messageField?: string;
  /**
   * Its details field, if it has one: a `Vec<Detail>` where
   * `struct Detail { type_url: String, value: Vec<u8> }` (serde_bytes), as
   * google.protobuf.Any carries them ({@link errorDetails} is its schema).
   * RpcError details travel in it both ways.
   */
  readonly detailsField?: string;
}

/** A MessagePack service: its name, envelopes, error case and methods. */
export interface MessagePackServiceSpec<M extends Readonly<Record<string, MessagePackMethodSpec>>> {
  /** The service's full name, for errors and interceptors ("echo.EchoService"). */
  readonly typeName: string;
  /** The request envelope. */
  readonly request: EnvelopeSpec;
  /** The response envelope. */
  readonly response: EnvelopeSpec;
  /** The error case; without one a failed call answers Cancel (what the Rust server does). */
  readonly error?: ErrorCaseSpec;
  /** The methods, by their property names on clients and handler objects. */
  readonly methods: M;
}

/** A method of a defined MessagePack service. */
export interface MessagePackMethod<K extends MessagePackMethodKind = MessagePackMethodKind, I = unknown, O = unknown> extends RpcMethod {
  /** Unary or server streaming. */
  readonly methodKind: K;
  /** Its definition. */
  readonly spec: MessagePackMethodSpec<K, I, O>;
}

/** The methods of a defined service, by property name. */
export type MessagePackMethods<M extends Readonly<Record<string, MessagePackMethodSpec>>> = {
  readonly [P in keyof M]: M[P] extends MessagePackMethodSpec<infer K, infer I, infer O> ? MessagePackMethod<K, I, O> : never;
};

/**
 * A MessagePack service bound to its envelopes: what clients and servers
 * are created from, as a protobuf `ServiceDefinition` is. Made by
 * {@link defineMessagePackService}.
 */
export interface MessagePackService<
  M extends Readonly<Record<string, MessagePackMethodSpec>> = Readonly<Record<string, MessagePackMethodSpec>>,
> extends AnyServiceDefinition {
  /** The definition it was made from. */
  readonly spec: MessagePackServiceSpec<M>;
  /** The methods, by property name. */
  readonly methods: MessagePackMethods<M>;
}

/** "echoStream" → "EchoStream": the default variant of a method, and its name in "Service/Method". */
export function capitalise(name: string): string {
  return name.length === 0 ? name : name[0]?.toUpperCase() + name.slice(1);
}

/** The definition object of `spec` with `encoding` (unchecked: defineMessagePackService checks it). */
export function buildMessagePackService<const M extends Readonly<Record<string, MessagePackMethodSpec>>>(
  spec: MessagePackServiceSpec<M>,
  encoding: Encoding,
): MessagePackService<M> {
  const shortName = spec.typeName.slice(spec.typeName.lastIndexOf(".") + 1);
  const parent = { typeName: spec.typeName, name: shortName };
  const methods: Record<string, MessagePackMethod> = {};
  const list: MessagePackMethod[] = [];
  for (const [localName, m] of Object.entries(spec.methods)) {
    const method: MessagePackMethod = { name: capitalise(localName), localName, methodKind: m.kind, parent, spec: m };
    methods[localName] = method;
    list.push(method);
  }
  return {
    service: { typeName: spec.typeName, name: shortName, methods: list },
    encoding,
    spec,
    methods: methods as MessagePackMethods<M>,
  };
}
