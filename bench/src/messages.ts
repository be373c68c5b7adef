// The message sets every system runs, with the values every system sends, so that all of
// them carry the same content (proto/bench/v1/bench.proto, proto/echo/v1/echo.proto).
//
//   small      echo.v1: EchoRequest { message "hello", payload } and CountResponse { n }
//              (the messages of the first benchmark: only int/bool/string/bytes fields)
//   realistic  bench.v1: PlaceOrderRequest / PlaceOrderResponse: uint64 id, int64
//              timestamp, double, repeated strings, a nested message and a map
//   grpc       bench.v1: gRPC's benchmark SimpleRequest / SimpleResponse with a Payload

export type MessageSet = "small" | "realistic" | "grpc";
export const MESSAGE_SETS: readonly MessageSet[] = ["small", "realistic", "grpc"];

/** Payload bytes of the grpc set's request and response (unary and stream). */
export const GRPC_PAYLOAD_BYTES = 64;

/** Payload bytes of the small set's unary calls and of the streaming workloads' chunks and chat messages. */
export const SMALL_PAYLOAD_BYTES = 16;

/** The realistic order every client sends (ids vary by call in no system: the same bytes each time). */
export const ORDER = {
  id: 1_234_567_890_123n,
  createdAtMs: 1_764_000_000_000n,
  amount: 1234.56,
  tags: ["priority", "gift-wrap", "eu-west-1"],
  customer: { id: 42_000_000_017n, name: "Ada Lovelace", email: "ada@example.com" },
  attributes: { channel: "web", coupon: "SPRING24", locale: "en-GB" } as Record<string, string>,
};

/** OrderStatus.PLACED: the status every server sets in its answer. */
export const ORDER_PLACED = 1;

/** The order of the n-th message of a ListOrders stream (n from 1). */
export function streamedOrderId(n: number): bigint {
  return ORDER.id + BigInt(n);
}

/** What the load generator expects a unary call to report: see BenchClient.unary. */
export function expectedUnary(set: MessageSet, payloadBytes: number): number {
  switch (set) {
    case "small":
      return payloadBytes;
    case "realistic":
      return ORDER.tags.length;
    case "grpc":
      return payloadBytes;
  }
}

/** Payload bytes of a unary call of this set and workload (the realistic set has no payload). */
export function unaryPayloadBytes(set: MessageSet, large: boolean): number {
  if (large) return 64 * 1024;
  return set === "small" ? SMALL_PAYLOAD_BYTES : set === "grpc" ? GRPC_PAYLOAD_BYTES : 0;
}
