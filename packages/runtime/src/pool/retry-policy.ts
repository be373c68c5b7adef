import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { Code, type RpcError } from "../errors.js";
import type { Attempts, RetryBudget, RetrySettings } from "./retry-budget.js";

/** True when the method is marked `idempotency_level = IDEMPOTENT` or `NO_SIDE_EFFECTS`. */
export function isIdempotent(method: { readonly idempotency?: number | undefined }): boolean {
  const level = method.idempotency;
  return level === MethodOptions_IdempotencyLevel.IDEMPOTENT || level === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS;
}

/** A failed attempt, as the retry decision reads it. */
export interface RetryQuestion {
  /** The method may run twice. */
  readonly idempotent: boolean;
  /** The attempt's error code. */
  readonly code: Code;
  /** The attempt is known not to have run. */
  readonly neverRan: boolean;
  /** The call's failed attempts, this one counted ({@link countFailure}). */
  readonly attempts: Readonly<Attempts>;
  /** The call's absolute deadline, if any. */
  readonly deadline: number | undefined;
  /** The time now. */
  readonly now: number;
}

/** `retry`; `final`: the error is the call's; `budget`: it could have been retried but the budget is spent. */
export type RetryVerdict = "retry" | "final" | "budget";

/** Counts a failed attempt in `attempts`. */
export function countFailure(attempts: Attempts, error: RpcError, neverRan: boolean): void {
  attempts.made++;
  if (neverRan) attempts.neverRan++;
  attempts.last = error;
}

/**
 * May the call be sent again (on another connection)? A call that never
 * ran is safe to send again whatever it does, and costs the servers
 * nothing: it does not count against maxAttempts (several draining
 * connections may refuse it in a row) but against maxNeverRanRetries. One
 * that may have run is retried only if its method is idempotent, the code
 * is one of `retry.codes`, it has attempts left and the budget a token.
 * Never past the deadline. The budget is drawn only when the answer is
 * `retry` for a call that may have run.
 */
export function decideRetry(settings: RetrySettings, budget: RetryBudget, q: RetryQuestion): RetryVerdict {
  if (q.deadline !== undefined && q.now >= q.deadline) return "final";
  const { attempts } = q;
  if (q.neverRan) return q.code === Code.Unavailable && attempts.neverRan <= settings.maxNeverRanRetries ? "retry" : "final";
  if (attempts.made - attempts.neverRan >= settings.maxAttempts) return "final";
  if (!q.idempotent || !settings.codes.has(q.code)) return "final";
  return budget.withdraw() ? "retry" : "budget";
}
