/**
 * `source` with `fn` applied to each value it yields. Unlike an async
 * generator written around `source`, `return()` reaches the source's
 * iterator at once, even while a `next()` is pending: a caller that stops
 * reading a request stream releases the producer without waiting for its
 * next value.
 */
export function mapAsyncIterable<T, U>(source: AsyncIterable<T>, fn: (value: T) => U): AsyncIterable<U> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<U> {
      const it = source[Symbol.asyncIterator]();
      return {
        async next(): Promise<IteratorResult<U>> {
          const r = await it.next();
          return r.done === true ? { value: undefined, done: true } : { value: fn(r.value), done: false };
        },
        async return(): Promise<IteratorResult<U>> {
          if (it.return !== undefined) await it.return();
          return { value: undefined, done: true };
        },
      };
    },
  };
}

/** True when `value` can be read with `for await` (it has a Symbol.asyncIterator method). */
export function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return (
    value !== null &&
    (typeof value === "object" || typeof value === "function") &&
    typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function"
  );
}
