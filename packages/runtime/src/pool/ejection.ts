import type { Clock } from "../util/clock.js";
import type { LongTimeout } from "../util/long-timeout.js";
import type { EjectionSettings } from "./pool-settings.js";

/** A server's ejection state, as the policy reads and writes it. */
export interface Ejectable {
  /** Connection failures (and counted call errors) since a call last succeeded there. */
  consecutiveFailures: number;
  /** Ejections in a row (the next lasts longer); reset when a call succeeds. */
  ejectionsInARow: number;
  /** Ejections so far (for stats). */
  ejections: number;
  /** Set while ejected. */
  ejectedUntil: number | undefined;
  ejectTimer: LongTimeout | undefined;
}

/**
 * How long to eject a server that has just failed, or undefined to keep it:
 * out after `consecutiveFailures` failures in a row, for `baseMs` × the
 * ejections in a row (at most `maxMs`), unless that would put more than
 * `maxPercent` of `outOf` servers out at once. Pure.
 */
export function ejectionFor(
  settings: EjectionSettings | undefined,
  server: Readonly<Ejectable>,
  ejectedNow: number,
  outOf: number,
): number | undefined {
  if (settings === undefined || server.ejectedUntil !== undefined || server.consecutiveFailures < settings.consecutiveFailures)
    return undefined;
  if (((ejectedNow + 1) * 100) / Math.max(1, outOf) > settings.maxPercent) return undefined;
  return Math.min(settings.baseMs * (server.ejectionsInARow + 1), settings.maxMs);
}

/** Ejection over a clock: counts failures, ejects, and arms the readmission. */
export class Ejection {
  constructor(
    readonly settings: EjectionSettings | undefined,
    private readonly clock: Clock,
  ) {}

  /**
   * Counts a failure of `server`; if it must go out, marks it ejected and
   * runs `readmit` when the time is up. Returns how long it is out.
   */
  failed(server: Ejectable, ejectedNow: number, outOf: number, readmit: () => void): number | undefined {
    server.consecutiveFailures++;
    const forMs = ejectionFor(this.settings, server, ejectedNow, outOf);
    if (forMs === undefined) return undefined;
    server.ejectionsInARow++;
    server.ejections++;
    server.ejectedUntil = this.clock.now() + forMs;
    server.ejectTimer = this.clock.setTimeout(readmit, forMs);
    return forMs;
  }
}
