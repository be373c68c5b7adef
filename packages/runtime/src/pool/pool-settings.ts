import { checkDialSettings, type DialSettings } from "../client/dial.js";
import type { Interceptor } from "../call/interceptor.js";
import type { Code } from "../errors.js";
import { checkCodes, checkFunction, checkNumber, checkObject, invalidOption } from "../util/validate.js";
import { checkBackoff } from "./backoff.js";
import { PICKERS, type PickerName } from "./pickers.js";
import type { PoolEvent } from "./pool-events.js";
import type { PoolOptions } from "./pool-options.js";
import { checkRetry, type RetrySettings } from "./retry-budget.js";
import type { SlotSettings } from "./slot.js";
import { checkSubset, type SubsetSettings } from "./subset.js";

/** Checked ejection options. */
export interface EjectionSettings {
  readonly consecutiveFailures: number;
  readonly baseMs: number;
  readonly maxMs: number;
  readonly maxPercent: number;
  readonly callErrorCodes: ReadonlySet<Code>;
}

/** Checked pool options. */
export interface PoolSettings {
  readonly slot: SlotSettings;
  readonly connectionsPerAddress: number;
  readonly picker: PickerName;
  readonly waitForReadyMs: number;
  readonly retry: RetrySettings;
  readonly ejection: EjectionSettings | undefined;
  /** Undefined: every server is used. */
  readonly subset: SubsetSettings | undefined;
  readonly resolveIntervalMs: number;
  readonly minResolveIntervalMs: number;
  readonly idleTimeoutMs: number;
  readonly onEvent: ((event: PoolEvent) => void) | undefined;
  readonly interceptors: readonly Interceptor[];
}

/**
 * Checks a pool's options where they enter.
 *
 * @throws RpcError `invalid_argument` naming the option.
 */
export function checkPoolOptions(options: PoolOptions | undefined): PoolSettings {
  checkObject("pool options", options);
  const o = options ?? {};
  const connection: DialSettings = checkDialSettings(o);
  const picker = o.picker ?? "least-outstanding";
  if (!PICKERS.includes(picker)) throw invalidOption("picker", picker, PICKERS.map((p) => JSON.stringify(p)).join(", "));
  checkFunction("onEvent", o.onEvent);
  let ejection: EjectionSettings | undefined;
  if (o.ejection !== false) {
    checkObject("ejection", o.ejection);
    const e = o.ejection ?? {};
    const baseMs = checkNumber("ejection.baseMs", e.baseMs, 30_000, { min: 1, max: 2 ** 31 - 1 });
    ejection = {
      consecutiveFailures: checkNumber("ejection.consecutiveFailures", e.consecutiveFailures, 5, { min: 1, max: 1e6 }),
      baseMs,
      maxMs: checkNumber("ejection.maxMs", e.maxMs, Math.max(300_000, baseMs), { min: baseMs, max: 2 ** 31 - 1 }),
      maxPercent: checkNumber("ejection.maxPercent", e.maxPercent, 50, { min: 0, max: 100, fraction: true }),
      callErrorCodes: checkCodes("ejection.callErrorCodes", e.callErrorCodes, []),
    };
  }
  return {
    // The pool runs its interceptors around its own calls; its connections run none.
    slot: {
      dial: { ...connection, interceptors: [] },
      backoff: checkBackoff(o.backoff),
      maxConnectionAgeMs: checkNumber("maxConnectionAgeMs", o.maxConnectionAgeMs, Number.POSITIVE_INFINITY, { min: 1, infinity: true }),
      maxConnectionAgeJitter: checkNumber("maxConnectionAgeJitter", o.maxConnectionAgeJitter, 0.1, { min: 0, max: 0.5, fraction: true }),
      maxConnectionAgeGraceMs: checkNumber("maxConnectionAgeGraceMs", o.maxConnectionAgeGraceMs, Number.POSITIVE_INFINITY, {
        infinity: true,
      }),
    },
    connectionsPerAddress: checkNumber("connectionsPerAddress", o.connectionsPerAddress, 1, { min: 1, max: 1024 }),
    picker,
    waitForReadyMs: checkNumber("waitForReadyMs", o.waitForReadyMs, 20_000, { infinity: true }),
    retry: checkRetry(o.retry),
    ejection,
    subset: checkSubset(o.subset),
    resolveIntervalMs: checkNumber("resolveIntervalMs", o.resolveIntervalMs, 30_000, { min: 1, max: 2 ** 31 - 1 }),
    minResolveIntervalMs: checkNumber("minResolveIntervalMs", o.minResolveIntervalMs, 5_000, { min: 0, max: 2 ** 31 - 1 }),
    idleTimeoutMs: checkNumber("idleTimeoutMs", o.idleTimeoutMs, Number.POSITIVE_INFINITY, { min: 1, infinity: true }),
    onEvent: o.onEvent,
    interceptors: connection.interceptors,
  };
}
