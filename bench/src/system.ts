// The interface every benchmarked system implements. One module per system family in
// src/systems/, registered in src/systems/index.ts; its server runs as
// `node dist/servers/<server>.js --port 0 --set <message set>` (see src/servers/run.ts).

import type { MessageSet } from "./messages.js";

/** A connected client of one system, as the load generator drives it. */
export interface BenchClient {
  /**
   * One unary call of the message set (src/messages.ts), resolving with what the load
   * generator checks (`expectedUnary`), rejecting on any RPC error:
   *   small      `echo.v1.EchoService/Echo` { message "hello", payload } → the echoed payload's length
   *   realistic  `bench.v1.BenchService/PlaceOrder` ORDER → the answer's tag count (the
   *              client also checks the answer's id and its status PLACED)
   *   grpc       `bench.v1.BenchService/UnaryCall` SimpleRequest { response_size = payload
   *              length, payload { body: payload } } → the answer's payload length
   */
  unary(set: MessageSet, payload: Uint8Array): Promise<number>;
  /**
   * One server stream of `count` messages, all consumed; resolves with how many arrived:
   *   small      Count { count } (CountResponse { n })
   *   realistic  ListOrders { count } (orders with ids ORDER.id + n)
   *   grpc       StreamingFromServer { request { response_size: GRPC_PAYLOAD_BYTES }, count }
   */
  stream(set: MessageSet, count: number): Promise<number>;
  /**
   * One client-streaming `streaming.v1.StreamingService/Upload`: chunks (seq and 16 bytes of
   * data each) sent as fast as the call takes them until `stop()` returns true (checked before
   * each chunk), then the end of the stream. Resolves with the number of chunks the server
   * counted. Only systems with `requestStreams`.
   */
  upload?(stop: () => boolean): Promise<number>;
  /**
   * Opens one bidi `streaming.v1.StreamingService/Chat` call for ping-pong: each round trip
   * sends one message and waits for the server's answer to it. Only systems with `requestStreams`.
   */
  openChat?(): Promise<BenchChat>;
  /** Closes every connection of this client. */
  close(): Promise<void>;
}

/** A bidi call kept open for ping-pong (see BenchClient.openChat). */
export interface BenchChat {
  /** Sends one message (seq, "hello", 16 bytes) and resolves when its answer has arrived. */
  roundTrip(): Promise<void>;
  /** Ends the call. */
  close(): Promise<void>;
}

/** A running server of one system, inside its own process. */
export interface BenchServer {
  /** The TCP port it listens on (127.0.0.1). */
  readonly port: number;
  close(): Promise<void>;
}

export interface ConnectOptions {
  readonly host: string;
  readonly port: number;
  /** The message set the client will call with (a connection may carry one envelope pair only). */
  readonly set: MessageSet;
}

/** The workloads; see src/workloads.ts. */
export type WorkloadKind = "unary" | "unary-64k" | "stream" | "connect-rate" | "client-stream" | "bidi-pingpong";

/** The workloads that need client and bidi streaming (systems with `requestStreams` only). */
export const REQUEST_STREAM_WORKLOADS: readonly WorkloadKind[] = ["client-stream", "bidi-pingpong"];

/** A process that is not `node dist/servers/<server>.js` or `node dist/loadgen.js`: a program and its arguments. */
export interface Program {
  readonly command: string;
  readonly args: readonly string[];
}

export interface System {
  /** The name used by `--systems` and in the table. */
  readonly name: string;
  /** One line for the report. */
  readonly description: string;
  /** The server entry point, dist/servers/<server>.js; several systems may share one. */
  readonly server: string;
  /** Workloads this system cannot run, with the reason shown in the report. */
  readonly unsupported?: Partial<Record<WorkloadKind, string>>;
  /**
   * When set, the server is this program (it takes `--port 0 --set <set>`, prints
   * `LISTENING <port>` and answers STATS / EXIT on stdin like src/servers/run.ts) instead
   * of `node dist/servers/<server>.js`; `serve` is then never called.
   */
  readonly serverCommand?: () => Program;
  /**
   * When set, the load generator is this program (it takes `--spec <json>` and speaks
   * src/loadgen.ts's line protocol) instead of `node dist/loadgen.js`; `connect` is then
   * never called.
   */
  readonly loadgenCommand?: () => Program;
  /**
   * Resolves with undefined when the system can run, or with the reason it cannot
   * (the coordinator then skips it and says why). Optional: absent means available.
   */
  available?(): Promise<string | undefined>;
  /**
   * True when the system runs the client-streaming and bidi workloads: its server serves
   * `streaming.v1.StreamingService` (Upload counts chunks, Chat answers each message with
   * itself) and its client implements `upload` and `openChat`. Otherwise those workloads are
   * reported as not supported.
   */
  readonly requestStreams?: boolean;
  /**
   * Starts the server of one message set on 127.0.0.1:port (0 = any free port). Runs in the
   * server process. `workload` is the workload it will serve (a system whose server cannot
   * serve every service on one port picks by it).
   */
  serve(port: number, set: MessageSet, workload?: WorkloadKind): Promise<BenchServer>;
  /** Opens a client (its connection(s) established before it resolves). Runs in the load generator. */
  connect(options: ConnectOptions): Promise<BenchClient>;
}

/** The small unary request's text field, sent by every system. */
export const ECHO_MESSAGE = "hello";
