// The message sets of proto/bench/v1/bench.proto in Thrift IDL, for the benchmark.
// BenchService extends echo.thrift's EchoService, so one Thrift server serves every
// message set (small, realistic, grpc) on one port. Thrift has no server streaming:
// ListOrders and StreamingFromServer return whole lists, and the benchmark does not
// run the `stream` workload against Thrift (see bench/README.md).
// uint64 fields are i64 here (Thrift has no unsigned types; the bench's values fit).
// Regenerate (from the repository root, Debian's thrift-compiler 0.17):
//   thrift --gen js:node,es6,ts -out bench/thrift/gen bench/thrift/bench.thrift

include "echo.thrift"

namespace js bench.v1

struct Customer {
  1: i64 id
  2: string name
  3: string email
}

enum OrderStatus {
  UNSPECIFIED = 0
  PLACED = 1
  SHIPPED = 2
}

struct PlaceOrderRequest {
  1: i64 id
  2: i64 created_at_ms
  3: double amount
  4: list<string> tags
  5: Customer customer
  6: map<string, string> attributes
}

struct PlaceOrderResponse {
  1: i64 id
  2: i64 created_at_ms
  3: double amount
  4: list<string> tags
  5: Customer customer
  6: map<string, string> attributes
  7: OrderStatus status
}

struct ListOrdersRequest {
  1: i32 count
}

struct Payload {
  1: i32 type
  2: binary body
}

struct BoolValue {
  1: bool value
}

struct EchoStatus {
  1: i32 code
  2: string message
}

struct SimpleRequest {
  1: i32 response_type
  2: i32 response_size
  3: Payload payload
  4: bool fill_username
  5: bool fill_oauth_scope
  6: BoolValue response_compressed
  7: EchoStatus response_status
  8: BoolValue expect_compressed
  9: bool fill_server_id
  10: bool fill_grpclb_route_type
}

struct SimpleResponse {
  1: Payload payload
  2: string username
  3: string oauth_scope
  4: string server_id
  5: i32 grpclb_route_type
  6: string hostname
}

struct StreamingFromServerRequest {
  1: SimpleRequest request
  2: i32 count
}

service BenchService extends echo.EchoService {
  PlaceOrderResponse PlaceOrder(1: PlaceOrderRequest request)
  list<PlaceOrderResponse> ListOrders(1: ListOrdersRequest request)
  SimpleResponse UnaryCall(1: SimpleRequest request)
  list<SimpleResponse> StreamingFromServer(1: StreamingFromServerRequest request)
}
