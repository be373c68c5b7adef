/**
 * One file with `n` services: every third is unbound (no envelope option),
 * the others share one envelope pair with a case each, and a few bind
 * envelopes of their own, with well-known types for messages.
 */
export function manyServices(n: number): string {
  const services: string[] = [];
  const reqCases: string[] = [];
  const resCases: string[] = [];
  const own: string[] = [];
  for (let i = 0; i < n; i++) {
    if (i % 3 === 2) {
      services.push(
        `// Unbound${i} has no envelope.\nservice Unbound${i} {\n  rpc Call(google.protobuf.Empty) returns (google.protobuf.Empty);\n}`,
      );
    } else if (i % 5 === 4) {
      services.push(
        `service Own${i} {\n  option (protosocket.v1.envelope) = { request: "OwnReq${i}" response: "OwnRes${i}" };\n  rpc Get(google.protobuf.StringValue) returns (google.protobuf.Int64Value);\n  rpc List(google.protobuf.Empty) returns (stream google.protobuf.StringValue);\n}`,
      );
      own.push(
        `message OwnReq${i} { uint64 message_id = 1; uint32 control_code = 2; oneof body { google.protobuf.StringValue get = 3; google.protobuf.Empty list = 4; } }`,
        `message OwnRes${i} { uint64 message_id = 1; uint32 control_code = 2; oneof body { google.protobuf.Int64Value get = 3; google.protobuf.StringValue list = 4; protosocket.v1.Status error = 5; } }`,
      );
    } else {
      services.push(
        `// Shared${i} shares the envelope pair.\nservice Shared${i} {\n  option (protosocket.v1.envelope) = { request: "Req" response: "Res" };\n  rpc Call(Msg${i}) returns (Msg${i}) { option (protosocket.v1.method) = { request_case: "call_${i}" response_case: "call_${i}" }; }\n}\nmessage Msg${i} { int32 v = 1; }`,
      );
      reqCases.push(`Msg${i} call_${i} = ${10 + i};`);
      resCases.push(`Msg${i} call_${i} = ${10 + i};`);
    }
  }
  return `syntax = "proto3";
package many.v1;
import "google/protobuf/empty.proto";
import "google/protobuf/wrappers.proto";
import "protosocket/v1/options.proto";
import "protosocket/v1/status.proto";

${services.join("\n\n")}

message Req { uint64 message_id = 1; uint32 control_code = 2; oneof body { ${reqCases.join(" ")} } }
message Res { uint64 message_id = 1; uint32 control_code = 2; oneof body { ${resCases.join(" ")} protosocket.v1.Status error = 3; } }
${own.join("\n")}
`;
}

/** How many services of manyServices(n) are bound. */
export function boundCount(n: number): number {
  let bound = 0;
  for (let i = 0; i < n; i++) if (i % 3 !== 2) bound++;
  return bound;
}
