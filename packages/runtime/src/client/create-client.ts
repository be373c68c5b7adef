import type { DescMethodBiDiStreaming, DescMethodClientStreaming, DescMethodServerStreaming, DescMethodUnary } from "@bufbuild/protobuf";
import { isEncoded, type AnyServiceDefinition } from "../service/rpc-service.js";
import { Code, RpcError } from "../errors.js";
import type { MessagePackService } from "../messagepack/service.js";
import type { ServiceDefinition } from "../service/service-definition.js";
import type { CallOptions } from "./call-options.js";
import type { Client, MessagePackClient } from "./client-types.js";
import { checkInterceptors, withInterceptors, type Interceptor } from "./interceptor.js";
import type { Transport } from "./transport.js";

/** Options of {@link createClient}. */
export interface ClientOptions {
  /** Interceptors around every call of this client, outermost first (inside the transport's own). */
  interceptors?: Interceptor[];
}

/**
 * Creates a client of a service on a transport: one method per rpc. Unary
 * methods return a Promise of the response; server-streaming methods return
 * an AsyncIterable whose request is sent when iteration starts, and leaving
 * the `for await` early cancels the call. Client-streaming methods take an
 * AsyncIterable of requests and return a Promise of the response;
 * bidi-streaming methods take one and return an AsyncIterable of responses
 * (the call starts when iteration starts).
 *
 * Creating a client builds nothing (the envelope codecs belong to the
 * service definition), so a client per request costs no more than a few
 * closures.
 *
 * `def` is a generated protobuf definition, or a MessagePack service (whose
 * clients have its unary and server-streaming methods, and to which
 * interceptors do not apply yet).
 */
export function createClient<D extends ServiceDefinition | MessagePackService>(
  def: D,
  transport: Transport,
  options: ClientOptions = {},
): ClientOf<D> {
  const interceptors = checkInterceptors("interceptors", options.interceptors);
  if (isEncoded(def as AnyServiceDefinition) && interceptors.length > 0) {
    throw new RpcError(
      Code.InvalidArgument,
      `interceptors do not apply to MessagePack services yet: create the client of ${def.service.typeName} without them`,
    );
  }
  // The transport's methods are declared with protobuf's types; for other encodings it carries their definitions and plain values alike.
  const t = withInterceptors(transport, interceptors);
  const client: Record<string, unknown> = {};
  for (const method of def.service.methods) {
    switch (method.methodKind) {
      case "unary": {
        const m = method as DescMethodUnary;
        client[method.localName] = (request: unknown, callOptions?: CallOptions) =>
          t.unary(def as ServiceDefinition, m, request as never, callOptions);
        break;
      }
      case "server_streaming": {
        const m = method as DescMethodServerStreaming;
        client[method.localName] = (request: unknown, callOptions?: CallOptions) =>
          t.stream(def as ServiceDefinition, m, request as never, callOptions);
        break;
      }
      case "client_streaming": {
        const m = method as DescMethodClientStreaming;
        client[method.localName] = (requests: unknown, callOptions?: CallOptions) =>
          t.clientStream(def as ServiceDefinition, m, requests as never, callOptions);
        break;
      }
      case "bidi_streaming": {
        const m = method as DescMethodBiDiStreaming;
        client[method.localName] = (requests: unknown, callOptions?: CallOptions) =>
          t.bidiStream(def as ServiceDefinition, m, requests as never, callOptions);
        break;
      }
    }
  }
  return client as ClientOf<D>;
}

/** The client of a service definition: `Client` for protobuf, `MessagePackClient` for MessagePack. */
export type ClientOf<D> =
  D extends ServiceDefinition<infer S> ? Client<S> : D extends MessagePackService<infer M> ? MessagePackClient<M> : never;
