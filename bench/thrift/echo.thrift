// The echo service of proto/echo/v1/echo.proto, in Thrift IDL, for the benchmark.
// Thrift has no server streaming: Count returns the whole list in one reply, so the
// benchmark does not run the `stream` workload against Thrift (see bench/README.md).
// Regenerate (from the repository root, Debian's thrift-compiler 0.17):
//   thrift --gen js:node,es6,ts -out bench/thrift/gen bench/thrift/echo.thrift

namespace js echo.v1

struct EchoRequest {
  1: string message
  2: binary payload
}

struct EchoResponse {
  1: string message
  2: binary payload
}

struct CountRequest {
  1: i32 count
  2: i32 delay_ms
  3: i32 payload_size
}

struct CountResponse {
  1: i32 n
  2: binary payload
}

struct FailRequest {
  1: i32 code
  2: string message
}

struct FailResponse {
}

exception EchoError {
  1: i32 code
  2: string message
}

service EchoService {
  EchoResponse Echo(1: EchoRequest request)
  list<CountResponse> Count(1: CountRequest request)
  FailResponse Fail(1: FailRequest request) throws (1: EchoError error)
}
