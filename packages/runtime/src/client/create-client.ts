import { clientStreamCaller, streamCaller, unaryCaller } from "../call/invoke.js";
import { checkInterceptors, interceptCalls, type Interceptor } from "../call/interceptor.js";
import type { Transport } from "../call/transport.js";
import type { AnyServiceDefinition } from "../encoding/service.js";
import type { MessagePackService } from "../messagepack/service.js";
import type { ServiceDefinition } from "../protobuf/service-definition.js";
import type { Client, MessagePackClient } from "./client-types.js";

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
 * Each call's request is built once, when the method is called (its options
 * checked then), and goes through the client's interceptors, then the
 * transport's. Creating a client builds nothing (the envelope codecs belong
 * to the service definition), so a client per request costs no more than a
 * few closures.
 *
 * `def` is a generated protobuf definition, or a MessagePack service.
 *
 * @throws RpcError `invalid_argument` naming an option that is not valid.
 */
export function createClient<D extends ServiceDefinition | MessagePackService>(
  def: D,
  transport: Transport,
  options: ClientOptions = {},
): ClientOf<D> {
  const interceptors = checkInterceptors("interceptors", options.interceptors);
  const calls = interceptCalls(transport, interceptors);
  const entry = calls === transport ? transport : { unary: calls.unary, stream: calls.stream, target: transport.target };
  const service = def as AnyServiceDefinition;
  const client: Record<string, unknown> = {};
  for (const method of service.service.methods) {
    switch (method.methodKind) {
      case "unary":
        client[method.localName] = unaryCaller(entry, service, method);
        break;
      case "client_streaming":
        client[method.localName] = clientStreamCaller(entry, service, method);
        break;
      default:
        client[method.localName] = streamCaller(entry, service, method);
    }
  }
  return client as ClientOf<D>;
}

/** The client of a service definition: `Client` for protobuf, `MessagePackClient` for MessagePack. */
export type ClientOf<D> =
  D extends ServiceDefinition<infer S> ? Client<S> : D extends MessagePackService<infer M> ? MessagePackClient<M> : never;
