/**
 * A stream of exactly one message: the request of a server-streaming call,
 * the response of a client-streaming one. The runtime reads its own without
 * awaiting; any other stream is read with `for await`.
 */

const DONE: IteratorReturnResult<undefined> = { value: undefined, done: true };

/** An AsyncIterable that yields `value` once. */
export class OneMessage<T> implements AsyncIterable<T> {
  /** @param value the one message. */
  constructor(readonly value: T) {}

  [Symbol.asyncIterator](): AsyncIterator<T> {
    let done = false;
    const value = this.value;
    return {
      next(): Promise<IteratorResult<T>> {
        if (done) return Promise.resolve(DONE);
        done = true;
        return Promise.resolve({ value, done: false });
      },
      return(): Promise<IteratorResult<T>> {
        done = true;
        return Promise.resolve(DONE);
      },
    };
  }
}

/**
 * The one message of `stream`: read at once when it is a
 * {@link OneMessage}, otherwise by iterating it to its end (so a wrapper
 * that watches it sees it end). `problem` is thrown when the stream ends
 * empty or holds more than one message.
 */
export function readOneMessage<T>(stream: AsyncIterable<T>, problem: (what: "none" | "more") => Error): T | Promise<T> {
  if (stream instanceof OneMessage) return stream.value as T;
  return (async () => {
    const it = stream[Symbol.asyncIterator]();
    const first = await it.next();
    if (first.done === true) throw problem("none");
    const after = await it.next();
    if (after.done !== true) {
      await it.return?.();
      throw problem("more");
    }
    return first.value;
  })();
}
