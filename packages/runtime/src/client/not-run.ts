import type { RpcError } from "../errors.js";

/** Errors of calls whose request no server ran (see `neverRan` in never-ran.ts). */
const notRun = new WeakSet<RpcError>();

/** Records that the call `error` failed never ran on any server; returns `error`. */
export function markNotRun(error: RpcError): RpcError {
  notRun.add(error);
  return error;
}

/** True when {@link markNotRun} recorded `error` (the public face is `neverRan` in never-ran.ts). */
export function isMarkedNotRun(error: unknown): boolean {
  return typeof error === "object" && error !== null && notRun.has(error as RpcError);
}
