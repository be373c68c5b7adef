/** Checks of the options given to this package, where they enter. */
import { Code, RpcError } from "@protosocket/runtime";

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "function") return "a function";
  if (Array.isArray(value)) return "an array";
  if (value !== null && typeof value === "object") return "an object";
  return String(value);
}

/** The error for an option whose value is not acceptable: RpcError `invalid_argument` naming the option and the value. */
export function invalidOption(name: string, value: unknown, expected: string): RpcError {
  return new RpcError(Code.InvalidArgument, `invalid option ${name}: ${describe(value)} (expected ${expected})`);
}

/**
 * Checks a list of connect-es interceptors (undefined: none).
 *
 * @throws RpcError `invalid_argument` naming the option.
 */
export function checkInterceptors<T extends (...args: never[]) => unknown>(name: string, value: unknown): readonly T[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((i) => typeof i !== "function")) {
    throw invalidOption(name, value, "an array of connect-es interceptors");
  }
  return value as T[];
}
