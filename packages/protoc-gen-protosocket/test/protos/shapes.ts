/** Inline .proto sources of the shapes the generator must handle. */

/** The smallest full service: unary + deprecated server streaming, default cases, Status error. */
export const greeter = `syntax = "proto3";
package demo.v1;
import "protosocket/v1/options.proto";
import "protosocket/v1/status.proto";

// Greeter greets.
service Greeter {
  option (protosocket.v1.envelope) = { request: "Req" response: "Res" };
  // Hello says hello.
  rpc Hello(HelloRequest) returns (HelloResponse);
  rpc Watch(HelloRequest) returns (stream HelloResponse) { option deprecated = true; }
}
message HelloRequest { string name = 1; }
message HelloResponse { string text = 1; }
message Req { uint64 message_id = 1; uint32 control_code = 2; oneof body { HelloRequest hello = 3; HelloRequest watch = 4; } }
message Res { uint64 message_id = 1; uint32 control_code = 2; oneof body { HelloResponse hello = 3; HelloResponse watch = 4; protosocket.v1.Status error = 5; } }
`;

/**
 * Commands grouped under a wrapper in the request ("unary.get"), responses
 * direct; an error type of the service's own with an enum code, marked by a
 * field role; id and code at other field numbers, found by field roles.
 */
export const grouped = `syntax = "proto3";
package shop.v1;
import "protosocket/v1/options.proto";

service Shop {
  option (protosocket.v1.envelope) = { request: "Request" response: "Response" };
  rpc Get(GetItem) returns (Item) { option (protosocket.v1.method) = { request_case: "unary.get" }; }
  rpc Buy(BuyItem) returns (Receipt) { option (protosocket.v1.method) = { request_case: "unary.buy" response_case: "receipt" }; }
  rpc Browse(BrowseItems) returns (stream Item) { option (protosocket.v1.method) = { response_case: "get" }; }
}
enum Code { OK = 0; CANCELLED = 1; NOT_FOUND = 5; }
message Problem { Code code = 1; string message = 2; }
message GetItem { string sku = 1; }
message BuyItem { string sku = 1; uint32 count = 2; }
message BrowseItems {}
message Item { string sku = 1; }
message Receipt { uint64 total = 1; }
message Unary { oneof command { GetItem get = 1; BuyItem buy = 2; } }
message Request {
  oneof kind { Unary unary = 1; BrowseItems browse = 2; }
  uint64 seq = 7 [(protosocket.v1.field).role = FIELD_ROLE_MESSAGE_ID];
  uint32 ctl = 9 [(protosocket.v1.field).role = FIELD_ROLE_CONTROL_CODE];
}
message Response {
  oneof kind {
    Item get = 1;
    Receipt receipt = 2;
    Problem problem = 3 [(protosocket.v1.field).role = FIELD_ROLE_ERROR];
  }
  uint64 seq = 7 [(protosocket.v1.field).role = FIELD_ROLE_MESSAGE_ID];
  uint32 ctl = 9 [(protosocket.v1.field).role = FIELD_ROLE_CONTROL_CODE];
}
`;

/** An existing protocol that knows nothing of protosocket (no imports of it). */
export const existingProtocol = `syntax = "proto3";
package legacy.v1;
message Ping { string text = 1; }
message Pong { string text = 1; }
message Request { uint64 request_id = 1; uint32 code = 2; oneof body { Ping ping = 3; } }
message Response { uint64 request_id = 1; uint32 code = 2; oneof body { Pong ping = 3; } }
`;

/** A service in a file of its own binding existingProtocol, naming its id and code fields. */
export const existingBinding = `syntax = "proto3";
package bind.v1;
import "legacy/v1/protocol.proto";
import "protosocket/v1/options.proto";
service Pinger {
  option (protosocket.v1.envelope) = {
    request: "legacy.v1.Request"
    response: "legacy.v1.Response"
    message_id_field: "request_id"
    control_code_field: "code"
    error_case: "-"
  };
  rpc Ping(legacy.v1.Ping) returns (legacy.v1.Pong);
}
`;

/**
 * A gRPC-style service as existing protos have it: no protosocket import, no
 * envelope option, every kind of method. Generated with
 * `default_envelope=standard`, it travels in the standard envelope.
 */
export const grpcStyle = `syntax = "proto3";
package route.v1;

// Guide finds features.
service Guide {
  // The feature at a point.
  rpc GetFeature(Point) returns (Feature);
  rpc ListFeatures(Point) returns (stream Feature);
  rpc RecordRoute(stream Point) returns (Summary);
  rpc Chat(stream Point) returns (stream Point);
}
message Point { int32 latitude = 1; int32 longitude = 2; }
message Feature { string name = 1; Point location = 2; }
message Summary { int32 points = 1; }
`;
