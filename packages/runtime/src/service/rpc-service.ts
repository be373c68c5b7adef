/**
 * What the runtime needs of a service and its methods, whatever their
 * encoding: names and kinds. protobuf-es's `DescService` and `DescMethod`
 * have this shape, and so do the definitions of other encodings
 * (MessagePack), so clients, servers and connections handle both alike.
 */
import type { MethodKind } from "../binding/binding.js";
import type { ServiceDefinition } from "./service-definition.js";

/** A method: its names, its kind and the service it belongs to. */
export interface RpcMethod {
  /** The method name ("GetUser"). */
  readonly name: string;
  /** Its property name on clients and handler objects ("getUser"). */
  readonly localName: string;
  /** Unary, server, client or bidi streaming. */
  readonly methodKind: MethodKind;
  /** The service it belongs to. */
  readonly parent: { readonly typeName: string; readonly name: string };
}

/** A service: its names and methods. */
export interface RpcService {
  /** The fully-qualified name ("echo.v1.EchoService"). */
  readonly typeName: string;
  /** The short name ("EchoService"). */
  readonly name: string;
  /** The methods, in declaration order. */
  readonly methods: readonly RpcMethod[];
}

/**
 * The encoding of a service definition that is not protobuf (whose
 * definitions carry no `encoding`): it builds the envelope codecs of the
 * definitions that use it. Its methods are internal to the runtime.
 */
export interface Encoding {
  /** The encoding's name, for messages ("MessagePack"). */
  readonly name: string;
}

/** A service definition of an encoding other than protobuf. */
export interface EncodedServiceDefinition {
  /** The service: names and methods. */
  readonly service: RpcService;
  /** Its encoding. */
  readonly encoding: Encoding;
}

/** Any service definition: protobuf, or another encoding's. */
export type AnyServiceDefinition = ServiceDefinition | EncodedServiceDefinition;

/** True for a definition of an encoding other than protobuf. */
export function isEncoded(def: AnyServiceDefinition): def is EncodedServiceDefinition {
  return (def as Partial<EncodedServiceDefinition>).encoding !== undefined;
}
