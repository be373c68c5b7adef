/**
 * {@link defineMessagePackService}: a checked MessagePack service definition
 * with its encoding.
 */
import { messagePackEncoding } from "./encoding.js";
import {
  capitalise,
  type MessagePackMethod,
  type MessagePackMethodSpec,
  type MessagePackMethods,
  type MessagePackService,
  type MessagePackServiceSpec,
} from "./service.js";

/**
 * Defines a MessagePack service, wire-compatible with a Rust service built
 * on protosocket-rpc and protosocket-messagepack whose serde types have the
 * same fields in the same order. Checks the definition at once: roles, cases
 * (each method's request case must differ), defaults.
 *
 * ```ts
 * const Request = { name: "Request", fields: { request_id: "id", code: "code", body: "body" } } as const;
 * const Response = { name: "Response", fields: { request_id: "id", code: "code", body: "body" } } as const;
 * export const EchoService = defineMessagePackService({
 *   typeName: "echo.EchoService",
 *   request: Request,
 *   response: Response,
 *   methods: { echo: unary(EchoRequest, EchoResponse), ticks: serverStreaming(TicksRequest, Tick) },
 * });
 * ```
 *
 * @throws TypeError naming what is wrong with the definition.
 */
export function defineMessagePackService<const M extends Readonly<Record<string, MessagePackMethodSpec>>>(
  spec: MessagePackServiceSpec<M>,
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
  const def: MessagePackService<M> = {
    service: { typeName: spec.typeName, name: shortName, methods: list },
    encoding: messagePackEncoding,
    spec,
    methods: methods as MessagePackMethods<M>,
  };
  messagePackEncoding.check(def as unknown as MessagePackService);
  return def;
}
