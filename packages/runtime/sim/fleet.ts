/**
 * A simulated fleet: servers, clients (each the pool's balancer over
 * simulated slots), a resolver's answer delivered to every client, and an
 * open-loop load (Poisson arrivals spread over the clients).
 */
import type { TcpEndpoint } from "../src/pool/endpoint.js";
import type { PickerName } from "../src/pool/pickers.js";
import type { PoolOptions } from "../src/pool/pool-options.js";
import { checkPoolOptions } from "../src/pool/pool-settings.js";
import { CallStats, SimClient, type ClientEnv } from "./sim-client.js";
import { SimServer, type ServerModel } from "./sim-server.js";
import { seededRandom, VirtualClock } from "./virtual-clock.js";

/**
 * How clients identify themselves for subsetting: `index` gives each its
 * index and the count (balanced subsets); `id` only a name (random
 * subsets); `none` turns subsetting off (every client uses every server).
 */
export type Identity = "index" | "id" | "none";

export interface FleetOptions {
  readonly clients: number;
  readonly servers: number;
  readonly identity: Identity;
  /** Servers per client. Default 20. */
  readonly subsetSize?: number;
  readonly picker?: PickerName;
  /** More pool options for every client. */
  readonly pool?: PoolOptions;
  readonly model?: Partial<ServerModel>;
  /** Time to open a connection (or be refused). Default 1 ms. */
  readonly connectMs?: number;
  readonly seed?: number;
}

/** 4 workers, 10 ms mean service time: 400 calls/s per server at most. */
export const DEFAULT_MODEL: ServerModel = { workers: 4, serviceMs: 10, rttMs: 0.2 };

/** The key of simulated server `i`: one address per server, like a headless Service's pods. */
export function serverEndpoint(i: number): TcpEndpoint {
  return { host: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, port: 7000 };
}

export class Fleet {
  readonly clock = new VirtualClock();
  readonly random: () => number;
  readonly servers: SimServer[] = [];
  readonly clients: SimClient[] = [];
  readonly model: ServerModel;
  readonly env: ClientEnv;
  private readonly byKey = new Map<string, SimServer>();
  /** The resolver's answer the clients have now. */
  endpoints: TcpEndpoint[] = [];

  constructor(readonly options: FleetOptions) {
    this.random = seededRandom(options.seed ?? 1);
    this.model = { ...DEFAULT_MODEL, ...options.model };
    this.env = { clock: this.clock, random: this.random, servers: this.byKey, connectMs: options.connectMs ?? 1, stats: new CallStats() };
    for (let i = 0; i < options.servers; i++) this.addServer(i);
    const size = options.subsetSize ?? 20;
    for (let i = 0; i < options.clients; i++) {
      const subset =
        options.identity === "none"
          ? false
          : options.identity === "index"
            ? { size, clientIndex: i, clientCount: options.clients }
            : { size, clientId: `client-${i}` };
      const settings = checkPoolOptions({ picker: options.picker ?? "least-outstanding", subset, ...options.pool });
      this.clients.push(new SimClient(i, settings, this.env));
    }
  }

  /** A server (not yet in the resolver's answer). */
  addServer(i: number): SimServer {
    const endpoint = serverEndpoint(i);
    const server = new SimServer(`${endpoint.host}:${endpoint.port}`, endpoint, {
      clock: this.clock,
      random: this.random,
      model: this.model,
    });
    this.servers.push(server);
    this.byKey.set(server.key, server);
    return server;
  }

  /** The resolver answers `endpoints`: every client takes it now, or at a random moment within `spreadMs`. */
  resolve(endpoints: TcpEndpoint[], spreadMs = 0): void {
    this.endpoints = endpoints;
    for (const c of this.clients) {
      if (spreadMs === 0) c.resolved(endpoints);
      else this.clock.setTimeout(() => c.resolved(endpoints), this.random() * spreadMs);
    }
  }

  /** Every client resolves every server, and connects. */
  start(): void {
    this.resolve(this.servers.map((s) => s.endpoint));
  }

  /**
   * Open-loop load from now until `untilMs`: `perSecond` calls per second
   * over all clients (Poisson arrivals, each to a client at random), a
   * share `idempotent` of them to an idempotent method.
   */
  load(perSecond: number, untilMs: number, idempotent = 0.5): void {
    const random = this.random;
    const clients = this.clients;
    const meanGap = 1000 / perSecond;
    const next = () => {
      if (this.clock.now() >= untilMs) return;
      (clients[Math.floor(random() * clients.length)] as SimClient).call(random() < idempotent);
      this.clock.setTimeout(next, -Math.log(1 - random()) * meanGap);
    };
    this.clock.setTimeout(next, -Math.log(1 - random()) * meanGap);
  }

  /** Runs the simulation to `ms`. */
  runUntil(ms: number): void {
    this.clock.runUntil(ms);
  }

  /** Counts calls started from now on in fresh counters (returned). */
  measure(): CallStats {
    const stats = new CallStats();
    this.env.stats = stats;
    return stats;
  }
}
