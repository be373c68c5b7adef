// What every server answers, per message set, as protobuf-es init objects (the Thrift system
// builds the same values as Thrift structs): the same work in every system.

import { ORDER, ORDER_PLACED, streamedOrderId } from "../messages.js";
import type { PlaceOrderRequest, SimpleRequest } from "@protosocket/gen/bench/v1/bench_pb.js";

/** PlaceOrder: the order as placed (the request's fields and a status). */
export function placeOrder(request: PlaceOrderRequest) {
  return {
    id: request.id,
    createdAtMs: request.createdAtMs,
    amount: request.amount,
    tags: request.tags,
    customer: request.customer,
    attributes: request.attributes,
    status: ORDER_PLACED,
  };
}

/** The n-th order of a ListOrders stream (n from 1). */
export function streamedOrder(n: number) {
  return {
    id: streamedOrderId(n),
    createdAtMs: ORDER.createdAtMs,
    amount: ORDER.amount,
    tags: ORDER.tags,
    customer: ORDER.customer,
    attributes: ORDER.attributes,
    status: ORDER_PLACED,
  };
}

/** UnaryCall: a payload of `response_size` zero bytes, as gRPC's benchmark server answers. */
export function unaryCall(request: SimpleRequest) {
  return { payload: { type: 0, body: new Uint8Array(request.responseSize) } };
}

/** One response of StreamingFromServer; the stream reuses one body for all of them. */
export function streamingResponse(body: Uint8Array) {
  return { payload: { type: 0, body } };
}
