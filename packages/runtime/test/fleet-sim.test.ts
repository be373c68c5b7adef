/**
 * The fleet simulation at CI size (200 clients × 200 servers, subsets of
 * 20): the pool's balancer, pickers, ejection and retry decision over
 * simulated servers in virtual time, asserting the fleet targets
 * (docs/deploy.md has the 1,000 × 1,000 run: `npm run sim`).
 */
import { describe, expect, it } from "vitest";
import { keyHomes, membership, outage, rollingRestart, slowServers, steadyState } from "../sim/scenarios.js";
import { serverEndpoint } from "../sim/fleet.js";
import { VirtualClock } from "../sim/virtual-clock.js";

const scale = { clients: 200, servers: 200, subsetSize: 20 };

describe("the virtual clock", () => {
  it("runs timers in time order (ties in the order set), skips cancelled ones, and jumps over idle time", () => {
    const clock = new VirtualClock();
    const seen: string[] = [];
    clock.setTimeout(() => seen.push("b"), 20);
    clock.setTimeout(() => seen.push("a"), 10);
    clock.setTimeout(() => seen.push("a2"), 10);
    clock.setTimeout(() => seen.push("never"), 15).cancel();
    clock.setTimeout(() => clock.setTimeout(() => seen.push(`c@${clock.now()}`), 5), 20);
    clock.setTimeout(() => seen.push("later"), 3_600_000);
    clock.runUntil(100);
    expect(seen).toEqual(["a", "a2", "b", "c@25"]);
    expect(clock.now()).toBe(100);
    clock.advance(3_600_000);
    expect(seen.at(-1)).toBe("later");
  });
});

describe(`fleet simulation, ${scale.clients} clients × ${scale.servers} servers`, () => {
  it("steady state: each client holds ≤ 25 connections, each server's load is within ±20 % of the mean", () => {
    const r = steadyState(scale, "index");
    expect(r.connectionsPerClient.max).toBeLessThanOrEqual(25);
    expect(r.connectionsPerClient.mean).toBe(20);
    expect(r.load.min).toBeGreaterThanOrEqual(0.8);
    expect(r.load.max).toBeLessThanOrEqual(1.2);
    expect(r.failedIdempotent + r.failedOther).toBe(0);
  });

  it("one server leaving or joining moves ≤ 2/N of the connections, and only its own keys", () => {
    for (const r of membership(scale)) {
      expect(r.closed / r.connections, r.change).toBeLessThanOrEqual(2 / scale.servers);
      expect(r.opened / r.connections, r.change).toBeLessThanOrEqual(2 / scale.servers);
      expect(r.closed, r.change).toBeGreaterThan(0);
      expect(r.keysMoved, r.change).toBeGreaterThan(0);
      expect(r.keysMovedElsewhere, r.change).toBe(0);
    }
  });

  it("key-hash homes do not depend on the order servers are resolved in", () => {
    const endpoints = Array.from({ length: 50 }, (_, i) => serverEndpoint(i));
    const keys = Array.from({ length: 500 }, (_, i) => `k${i}`);
    expect(keyHomes([...endpoints].reverse(), keys)).toEqual(keyHomes(endpoints, keys));
  });

  it("10 % of the servers crash: attempts ≤ 1.1 × calls, no idempotent call fails", () => {
    const r = outage(scale, "crash");
    expect(r.attemptsPerCall).toBeLessThanOrEqual(1.1);
    expect(r.failedIdempotent).toBe(0);
    expect(r.ejections).toBeGreaterThan(0);
  });

  it("a rolling restart of every server fails no call of any kind", () => {
    const r = rollingRestart(scale);
    expect(r.failedIdempotent + r.failedOther).toBe(0);
    expect(r.neverRanRetries).toBeGreaterThan(0);
  });

  it("slow servers: least-outstanding keeps the tail short where round-robin queues behind them", () => {
    const least = slowServers(scale, "least-outstanding");
    const rr = slowServers(scale, "round-robin");
    expect(least.slowShare).toBeLessThan(0.9);
    expect(rr.slowShare).toBeGreaterThan(0.95);
    expect(least.p99 * 10).toBeLessThan(rr.p99);
  });
});
