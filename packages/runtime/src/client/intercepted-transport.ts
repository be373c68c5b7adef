import type {
  DescMethodBiDiStreaming,
  DescMethodClientStreaming,
  DescMethodServerStreaming,
  DescMethodUnary,
  Message,
} from "@bufbuild/protobuf";
import type { AnyServiceDefinition } from "../service/rpc-service.js";
import type { CallOptions } from "./call-options.js";
import { InterceptorChain, type Interceptor } from "./interceptor.js";

/**
 * The call dispatch a transport with interceptors of its own shares (a
 * connection, a pool): each call goes through the chain when there is one,
 * else straight to the subclass's call path, where the chain ends too. With
 * no interceptors no chain is built, so calls cost nothing extra.
 */
export abstract class InterceptedTransport {
  private chain: InterceptorChain | undefined;

  /** The subclass's unary call path. */
  protected abstract unaryCall(
    def: AnyServiceDefinition,
    method: DescMethodUnary,
    input: unknown,
    options: CallOptions | undefined,
  ): Promise<Message>;
  /** Its server-streaming call path. */
  protected abstract streamCall(
    def: AnyServiceDefinition,
    method: DescMethodServerStreaming,
    input: unknown,
    options: CallOptions | undefined,
  ): AsyncIterable<Message>;
  /** Its client-streaming call path. */
  protected abstract clientStreamCall(
    def: AnyServiceDefinition,
    method: DescMethodClientStreaming,
    input: AsyncIterable<unknown>,
    options: CallOptions | undefined,
  ): Promise<Message>;
  /** Its bidi-streaming call path. */
  protected abstract bidiStreamCall(
    def: AnyServiceDefinition,
    method: DescMethodBiDiStreaming,
    input: AsyncIterable<unknown>,
    options: CallOptions | undefined,
  ): AsyncIterable<Message>;

  /** Puts `interceptors` (outermost first) around every call; `target` is the peer they see. Call once, from the constructor. */
  protected installInterceptors(interceptors: readonly Interceptor[], target: string): void {
    if (interceptors.length === 0) return;
    this.chain = new InterceptorChain(interceptors, {
      target,
      unary: (def, method, input, options) => this.unaryCall(def, method, input, options),
      stream: (def, method, input, options) => this.streamCall(def, method, input, options),
      clientStream: (def, method, input, options) => this.clientStreamCall(def, method, input, options),
      bidiStream: (def, method, input, options) => this.bidiStreamCall(def, method, input, options),
    });
  }

  unary(def: AnyServiceDefinition, method: DescMethodUnary, input: unknown, options?: CallOptions): Promise<never> {
    const chain = this.chain;
    return (chain !== undefined ? chain.unary(def, method, input, options) : this.unaryCall(def, method, input, options)) as Promise<never>;
  }

  stream(def: AnyServiceDefinition, method: DescMethodServerStreaming, input: unknown, options?: CallOptions): AsyncIterable<never> {
    const chain = this.chain;
    return (
      chain !== undefined ? chain.stream(def, method, input, options) : this.streamCall(def, method, input, options)
    ) as AsyncIterable<never>;
  }

  clientStream(
    def: AnyServiceDefinition,
    method: DescMethodClientStreaming,
    input: AsyncIterable<unknown>,
    options?: CallOptions,
  ): Promise<never> {
    const chain = this.chain;
    return (
      chain !== undefined ? chain.clientStream(def, method, input, options) : this.clientStreamCall(def, method, input, options)
    ) as Promise<never>;
  }

  bidiStream(
    def: AnyServiceDefinition,
    method: DescMethodBiDiStreaming,
    input: AsyncIterable<unknown>,
    options?: CallOptions,
  ): AsyncIterable<never> {
    const chain = this.chain;
    return (
      chain !== undefined ? chain.bidiStream(def, method, input, options) : this.bidiStreamCall(def, method, input, options)
    ) as AsyncIterable<never>;
  }
}
