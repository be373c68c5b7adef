/**
 * {@link defineMessagePackService}: a checked MessagePack service definition
 * with its encoding.
 */
import { messagePackEncoding } from "./encoding.js";
import { buildMessagePackService, type MessagePackMethodSpec, type MessagePackService, type MessagePackServiceSpec } from "./service.js";

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
  const def = buildMessagePackService(spec, messagePackEncoding);
  messagePackEncoding.check(def as unknown as MessagePackService);
  return def;
}
