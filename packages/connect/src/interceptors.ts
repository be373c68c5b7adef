/**
 * connect-es interceptors, applied as connect-es applies them (its own
 * `applyInterceptors` is not exported): the first of a list is the
 * outermost, and the messages they see are messages, not init objects.
 */
import { create, isMessage, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import type { Interceptor } from "@connectrpc/connect";

/** The function connect-es interceptors wrap. */
export type AnyFn = Parameters<Interceptor>[0];

/** `next` inside `interceptors`, the first outermost. */
export function applyInterceptors(next: AnyFn, interceptors: readonly Interceptor[]): AnyFn {
  let fn = next;
  for (let i = interceptors.length - 1; i >= 0; i--) fn = (interceptors[i] as Interceptor)(fn);
  return fn;
}

/** `value` as a message of `desc`: itself when it is one, else created from it (an init object). */
export function normalize(desc: DescMessage, value: unknown): unknown {
  return isMessage(value, desc) ? value : create(desc, value as MessageInitShape<DescMessage>);
}

const DONE: IteratorReturnResult<undefined> = { value: undefined, done: true };

/**
 * `source` with `fn` applied to each value. `return()` reaches the source at
 * once (a stream left early releases its producer without waiting).
 */
export function mapIterable<T, U>(source: AsyncIterable<T>, fn: (value: T) => U): AsyncIterable<U> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<U> {
      const it = source[Symbol.asyncIterator]();
      const map = (r: IteratorResult<T>): IteratorResult<U> => (r.done === true ? DONE : { value: fn(r.value), done: false });
      return {
        next: () => it.next().then(map),
        async return(): Promise<IteratorResult<U>> {
          if (it.return !== undefined) await it.return();
          return DONE;
        },
      };
    },
  };
}

/** `source`'s messages normalized to messages of `desc`. */
export function normalizeIterable(desc: DescMessage, source: AsyncIterable<unknown>): AsyncIterable<unknown> {
  return mapIterable(source, (m) => normalize(desc, m));
}

/**
 * `source` watched: `end()` runs once when it ends, fails (before the
 * error, made by `fail`, reaches the reader) or is left with `return()`.
 */
export function watchEnd<T>(
  source: AsyncIterable<T>,
  end: (error: unknown, failed: boolean) => void,
  fail: (e: unknown) => unknown,
): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      const it = source[Symbol.asyncIterator]();
      let ended = false;
      const finish = (error: unknown, failed: boolean): void => {
        if (ended) return;
        ended = true;
        end(error, failed);
      };
      const onResult = (r: IteratorResult<T>): IteratorResult<T> => {
        if (r.done === true) finish(undefined, false);
        return r;
      };
      const onError = (e: unknown): never => {
        finish(e, true);
        throw fail(e);
      };
      return {
        next: () => {
          let next: Promise<IteratorResult<T>>;
          try {
            next = it.next();
          } catch (e) {
            next = Promise.reject(e);
          }
          return next.then(onResult, onError);
        },
        async return(): Promise<IteratorResult<T>> {
          finish(undefined, false);
          if (it.return !== undefined) await it.return();
          return DONE;
        },
      };
    },
  };
}
