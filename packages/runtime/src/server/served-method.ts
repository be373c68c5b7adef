import type { CallFn } from "../call/interceptor.js";
import type { MethodCodec } from "../encoding/encoding.js";
import type { AnyHandler } from "./handler-chain.js";
import type { ServerRequest } from "./interceptor.js";

/** A method a server serves: where its messages are, its handler, and the interceptor chain around it. */
export interface ServedMethod {
  /** The method and its envelope cases. */
  readonly codec: MethodCodec;
  /** The handler, or undefined for a method left unimplemented. */
  readonly handler: AnyHandler | undefined;
  /** The interceptors around the handler; undefined when the server has none (the handler is called directly). */
  readonly chain: CallFn<ServerRequest> | undefined;
}
