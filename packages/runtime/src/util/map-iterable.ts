/**
 * `source` with `fn` applied to each value it yields. Unlike an async
 * generator written around `source`, `return()` reaches the source's
 * iterator at once, even while a `next()` is pending: a caller that stops
 * reading a stream releases the producer without waiting for its next
 * value. When `fn` throws, `next()` rejects with its error; the caller
 * then calls `return()`, as a `for await` loop or the server's pump does.
 */
export function mapAsyncIterable<T, U>(source: AsyncIterable<T>, fn: (value: T) => U): AsyncIterable<U> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<U> {
      const it = source[Symbol.asyncIterator]();
      // One then() per value, no async function or generator frame: this sits on streams' per-message path.
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

const DONE: IteratorReturnResult<undefined> = { value: undefined, done: true };

/** True when `value` can be read with `for await` (it has a Symbol.asyncIterator method). */
export function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return (
    value !== null &&
    (typeof value === "object" || typeof value === "function") &&
    typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function"
  );
}
