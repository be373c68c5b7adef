/**
 * The resolved envelope binding of a service: which envelope fields carry the
 * message id, the control code, each method's message and the error. Plain
 * data, so the code generator can compile it into generated code and the
 * runtime can build it from descriptors alike.
 */

/** One step of a path through envelope fields. */
export interface FieldStep {
  /** The field's proto name ("message_id"). */
  readonly name: string;
  /** The field's property name in protobuf-es messages ("messageId"). */
  readonly localName: string;
  /** The field number. */
  readonly number: number;
  /** The property name of the oneof the field belongs to, if any ("body"). */
  readonly oneof?: string;
}

/** Where a message lives in an envelope: a path of fields from the envelope down. */
export interface CasePath {
  /** The path as written in options: proto field names joined with dots ("unary.get"). */
  readonly path: string;
  /** The fields, from the envelope down; the last one carries the message. */
  readonly steps: readonly FieldStep[];
  /** The fully-qualified type of the message at the end of the path. */
  readonly typeName: string;
}

/** The id and control-code fields of one envelope message. */
export interface EnvelopeFields {
  /** The envelope's fully-qualified type name. */
  readonly typeName: string;
  /** The uint64 message id field. */
  readonly id: FieldStep;
  /** The uint32 control code field. */
  readonly code: FieldStep;
  /**
   * The map<string, string> metadata field, when the envelope binds one:
   * request metadata on the request envelope, trailers on the response
   * envelope.
   */
  readonly metadata?: FieldStep;
  /** The uint64 field of the milliseconds left to the deadline (request envelope only), when bound. */
  readonly deadline?: FieldStep;
}

/** The error case of the response envelope and how to read and write it. */
export interface ErrorCase extends CasePath {
  /** True when the error type is protosocket.v1.Status. */
  readonly isStatus: boolean;
  /** Property name of the code field (an integer, or an enum with the gRPC numbers). */
  readonly codeField: string;
  /** Property name of the message string field. */
  readonly messageField: string;
  /** Property name of the repeated google.protobuf.Any details field, if the type has one. */
  readonly detailsField?: string;
}

/**
 * Kinds of methods protosocket carries. Client and bidi streaming are an
 * extension of ours: Rust protosocket-rpc peers can neither serve nor call
 * them (see docs/decisions.md).
 */
export type MethodKind = "unary" | "server_streaming" | "client_streaming" | "bidi_streaming";

/** One method's binding. */
export interface MethodBinding {
  /** The proto method name ("GetUser"). */
  readonly name: string;
  /** The method's property name on clients and handler objects ("getUser"). */
  readonly localName: string;
  /** Unary, server, client or bidi streaming. */
  readonly kind: MethodKind;
  /** The input type's fully-qualified name. */
  readonly inputType: string;
  /** The output type's fully-qualified name. */
  readonly outputType: string;
  /** Where the request lives in the request envelope. */
  readonly request: CasePath;
  /** Where each response lives in the response envelope. */
  readonly response: CasePath;
}

/** A service bound to its envelopes. */
export interface ServiceBinding {
  /** The service's fully-qualified name ("echo.v1.EchoService"). */
  readonly typeName: string;
  /** Id and code fields of the request envelope. */
  readonly request: EnvelopeFields;
  /** Id and code fields of the response envelope, and its error case if it has one. */
  readonly response: EnvelopeFields & { readonly error?: ErrorCase };
  /** The methods, in declaration order. */
  readonly methods: readonly MethodBinding[];
}
