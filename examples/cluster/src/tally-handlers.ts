import { setTimeout as sleep } from "node:timers/promises";
import type { HandlerContext } from "@protosocket/runtime";
import type { TallyServiceHandlers } from "@protosocket/gen/cluster/v1/tally_protosocket.js";

/**
 * The handlers of one server process: a counter per key, kept in this
 * process only, and every answer names the process (`server`, `pid`).
 */
export function createTallyHandlers(server: string): TallyServiceHandlers {
  const counters = new Map<string, number>();
  const tally = (key: string) => ({ key, value: counters.get(key) ?? 0, server, pid: process.pid });
  const pause = async (ms: number, ctx: HandlerContext) => {
    if (ms > 0) await sleep(ms, undefined, { signal: ctx.signal });
  };
  return {
    async get(req, ctx) {
      await pause(req.delayMs, ctx);
      return tally(req.key);
    },
    async set(req, ctx) {
      await pause(req.delayMs, ctx);
      counters.set(req.key, req.value);
      return tally(req.key);
    },
    async add(req, ctx) {
      await pause(req.delayMs, ctx);
      counters.set(req.key, (counters.get(req.key) ?? 0) + req.delta);
      return tally(req.key);
    },
    async *watch(req, ctx) {
      for (let i = 0; i < req.count && !ctx.signal.aborted; i++) {
        if (i > 0) await pause(req.intervalMs, ctx);
        yield tally(req.key);
      }
    },
  };
}
