import type { DescService } from "@bufbuild/protobuf";
import type { ServiceDefinition } from "../service/service-definition.js";
import type { CallOptions, Client } from "./client-types.js";
import type { Transport } from "./transport.js";

/**
 * Creates a client of a service on a transport. Unary methods return a
 * Promise of the response; server-streaming methods return an AsyncIterable
 * whose request is sent when iteration starts, and leaving the `for await`
 * early cancels the call.
 */
export function createClient<S extends DescService>(def: ServiceDefinition<S>, transport: Transport): Client<S> {
  const registry = transport.registry;
  const client: Record<string, unknown> = {};
  for (const [localName, method] of registry.attach(def)) {
    client[localName] =
      method.binding.kind === "unary"
        ? (request: unknown, options?: CallOptions) => registry.unary(method, request, options)
        : (request: unknown, options?: CallOptions) => registry.stream(method, request, options);
  }
  return client as Client<S>;
}
