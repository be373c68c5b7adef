import type { MethodCodec } from "../envelope/service-codecs.js";
import type { AnyHandler, ServerCallFn } from "./interceptor.js";

/** A method a server serves: where its messages are, its handler, and the interceptor chain around it. */
export interface ServedMethod {
  /** The method and its envelope cases. */
  readonly codec: MethodCodec;
  /** The handler, or undefined for a method left unimplemented. */
  readonly handler: AnyHandler | undefined;
  /** The interceptors around the handler; undefined when the server has none (the handler is called directly). */
  readonly chain: ServerCallFn | undefined;
  /** Report the handler's failures to onHandlerError directly (services that run without the interceptor that does it). */
  readonly reportFailures?: boolean;
}
