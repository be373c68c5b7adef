import type { DescMethodServerStreaming, DescMethodUnary, DescService } from "@bufbuild/protobuf";
import type { ServiceDefinition } from "../service/service-definition.js";
import type { CallOptions } from "./call-options.js";
import type { Client } from "./client-types.js";
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
 * the `for await` early cancels the call.
 *
 * Creating a client builds nothing (the envelope codecs belong to the
 * service definition), so a client per request costs no more than a few
 * closures.
 */
export function createClient<S extends DescService>(def: ServiceDefinition<S>, transport: Transport, options: ClientOptions = {}): Client<S> {
  const t = withInterceptors(transport, checkInterceptors("interceptors", options.interceptors));
  const client: Record<string, unknown> = {};
  for (const method of def.service.methods) {
    switch (method.methodKind) {
      case "unary": {
        const m = method as DescMethodUnary;
        client[method.localName] = (request: unknown, callOptions?: CallOptions) => t.unary(def, m, request as never, callOptions);
        break;
      }
      case "server_streaming": {
        const m = method as DescMethodServerStreaming;
        client[method.localName] = (request: unknown, callOptions?: CallOptions) => t.stream(def, m, request as never, callOptions);
        break;
      }
      default:
        // Client and bidi streaming are not bound by protosocket yet: the method is left out.
        break;
    }
  }
  return client as Client<S>;
}
