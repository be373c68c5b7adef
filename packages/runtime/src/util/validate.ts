/**
 * Checks of user-given options, where they enter the API. Each failure is an
 * RpcError `invalid_argument` whose message names the option and the value.
 */
import { Code, RpcError } from "../errors.js";

/** Rules for a numeric option. */
export interface NumberRule {
  /** Smallest accepted value. Default 0. */
  min?: number;
  /** Largest accepted finite value. Default Number.MAX_SAFE_INTEGER. */
  max?: number;
  /** Whether Infinity is accepted (meaning "no limit" / "never"). Default false. */
  infinity?: boolean;
  /** Whether fractions are accepted. Default false. */
  fraction?: boolean;
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return `${value}n`;
  return String(value);
}

/** The error for an option whose value is not acceptable. */
export function invalidOption(name: string, value: unknown, expected: string): RpcError {
  return new RpcError(Code.InvalidArgument, `invalid option ${name}: ${describe(value)} (expected ${expected})`);
}

/**
 * Returns `value` when it is a number that fits `rule`, `fallback` when it
 * is undefined; throws {@link invalidOption} otherwise.
 */
export function checkNumber(name: string, value: unknown, fallback: number, rule: NumberRule = {}): number {
  if (value === undefined) return fallback;
  const min = rule.min ?? 0;
  const max = rule.max ?? Number.MAX_SAFE_INTEGER;
  const expected = `${rule.fraction === true ? "a number" : "an integer"} from ${min} to ${max}${rule.infinity === true ? ", or Infinity" : ""}`;
  if (typeof value !== "number" || Number.isNaN(value)) throw invalidOption(name, value, expected);
  if (value === Number.POSITIVE_INFINITY && rule.infinity === true) return value;
  if (!Number.isFinite(value) || value < min || value > max || (rule.fraction !== true && !Number.isInteger(value))) {
    throw invalidOption(name, value, expected);
  }
  return value;
}

/** Returns `value` when it is undefined or a boolean; throws otherwise. */
/** Checks a list of status codes (`Code.Unavailable`, …); `fallback` when absent. */
export function checkCodes(name: string, value: unknown, fallback: readonly Code[]): ReadonlySet<Code> {
  const codes = value ?? fallback;
  if (!Array.isArray(codes) || codes.some((c) => typeof c !== "number" || !Number.isInteger(c) || c < 1 || c > 16)) {
    throw invalidOption(name, codes, "an array of status codes (Code.Unavailable, …)");
  }
  return new Set(codes as Code[]);
}

export function checkBoolean(name: string, value: unknown): boolean | undefined {
  if (value === undefined || typeof value === "boolean") return value;
  throw invalidOption(name, value, "true or false");
}

/** Returns `value` when it is undefined or an AbortSignal; throws otherwise. */
export function checkSignal(name: string, value: unknown): AbortSignal | undefined {
  if (value === undefined || value instanceof AbortSignal) return value;
  throw invalidOption(name, value, "an AbortSignal");
}

/** Throws when `value` is not undefined and not a function. */
export function checkFunction(name: string, value: unknown): void {
  if (value !== undefined && typeof value !== "function") throw invalidOption(name, value, "a function");
}

/** Throws when `options` is neither undefined nor a plain object. */
export function checkObject(name: string, options: unknown): void {
  if (options !== undefined && (options === null || typeof options !== "object")) {
    throw invalidOption(name, options, "an object");
  }
}
