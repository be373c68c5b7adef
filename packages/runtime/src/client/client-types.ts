import type {
  DescMethodServerStreaming,
  DescMethodUnary,
  DescService,
  MessageInitShape,
  MessageShape,
} from "@bufbuild/protobuf";
import type { CallOptions } from "./call-options.js";

/** A unary method on a client: a request in, a promise of the response out. */
export type UnaryFn<I extends DescMethodUnary["input"], O extends DescMethodUnary["output"]> = (
  request: MessageInitShape<I>,
  options?: CallOptions,
) => Promise<MessageShape<O>>;

/** A server-streaming method on a client: a request in, an async iterable of responses out. */
export type ServerStreamingFn<I extends DescMethodServerStreaming["input"], O extends DescMethodServerStreaming["output"]> = (
  request: MessageInitShape<I>,
  options?: CallOptions,
) => AsyncIterable<MessageShape<O>>;

/**
 * The client of a service: one method per rpc, named by its local name.
 * Unary methods return a Promise, server-streaming methods an AsyncIterable.
 */
export type Client<S extends DescService> = {
  [P in keyof S["method"]]: S["method"][P] extends DescMethodUnary<infer I, infer O>
    ? UnaryFn<I, O>
    : S["method"][P] extends DescMethodServerStreaming<infer I, infer O>
      ? ServerStreamingFn<I, O>
      : never;
};
