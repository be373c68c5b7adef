import { InvalidArgumentError } from "commander";

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses a duration flag: `250ms`, `5s`, `1.5s`, `2m`, `1h`; a bare number
 * is seconds (as grpcurl's and ghz's flags read). Returns milliseconds.
 *
 * @throws InvalidArgumentError (commander reports it naming the flag) for anything else, and for zero or less.
 */
export function parseDuration(value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h)?\s*$/.exec(value);
  if (m === null) {
    throw new InvalidArgumentError("expected a duration such as 500ms, 5s, 1.5m or 1h (a bare number is seconds)");
  }
  const ms = Number(m[1]) * (UNIT_MS[m[2] ?? "s"] as number);
  if (!(ms > 0) || !Number.isFinite(ms)) throw new InvalidArgumentError("a duration must be more than zero");
  if (ms > 2 ** 31 * 1000) throw new InvalidArgumentError("a duration must be under 68 years");
  return ms;
}

/** A commander parser for integers from `min` to `max`. */
export function integerIn(min: number, max: number): (value: string) => number {
  return (value: string) => {
    const n = Number(value.trim());
    if (value.trim() === "" || !Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer from ${min.toLocaleString("en-US")} to ${max.toLocaleString("en-US")}`);
    }
    return n;
  };
}

/** A commander parser for numbers above zero (fractions allowed), up to `max`. */
export function positiveNumber(max: number): (value: string) => number {
  return (value: string) => {
    const n = Number(value.trim());
    if (value.trim() === "" || !Number.isFinite(n) || n <= 0 || n > max) {
      throw new InvalidArgumentError(`expected a number above 0, at most ${max.toLocaleString("en-US")}`);
    }
    return n;
  };
}

/** A commander collector for repeatable flags: each use appends. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
