/**
 * A per-call bag of typed values that interceptors and handlers share (an
 * auth interceptor stores the caller, a handler reads it), keyed by
 * {@link ContextKey}s rather than strings so two libraries never collide.
 */

/** A key of {@link ContextValues}, with the value a bag without it returns. */
export interface ContextKey<T> {
  /** Identifies the key; two keys never match, whatever their description. */
  readonly id: symbol;
  /** Returned by {@link ContextValues.get} when the bag has no value for the key. */
  readonly defaultValue: T;
}

/** A per-call bag of typed values. */
export interface ContextValues {
  /** The value for `key`, or the key's default. */
  get<T>(key: ContextKey<T>): T;
  /** Sets the value for `key`; returns the bag. */
  set<T>(key: ContextKey<T>, value: T): this;
  /** Removes the value for `key`; returns the bag. */
  delete(key: ContextKey<unknown>): this;
  /** True when the bag holds a value for `key`. */
  has(key: ContextKey<unknown>): boolean;
}

/** Creates a key whose value in a bag without it is `defaultValue`. */
export function createContextKey<T>(defaultValue: T, options: { description?: string } = {}): ContextKey<T> {
  return { id: Symbol(options.description), defaultValue };
}

/** A bag whose Map is created on the first set: most calls' bags stay empty. */
class ContextValuesImpl implements ContextValues {
  private values: Map<symbol, unknown> | undefined;

  get<T>(key: ContextKey<T>): T {
    const values = this.values;
    return values?.has(key.id) ? (values.get(key.id) as T) : key.defaultValue;
  }

  set<T>(key: ContextKey<T>, value: T): this {
    this.values ??= new Map();
    this.values.set(key.id, value);
    return this;
  }

  delete(key: ContextKey<unknown>): this {
    this.values?.delete(key.id);
    return this;
  }

  has(key: ContextKey<unknown>): boolean {
    return this.values?.has(key.id) ?? false;
  }
}

/** Creates an empty {@link ContextValues}. */
export function createContextValues(): ContextValues {
  return new ContextValuesImpl();
}
