/** Inline protos that break one binding rule each, keyed by the rule. */

const head = `syntax = "proto3";
package bad.v1;
import "protosocket/v1/options.proto";
import "protosocket/v1/status.proto";
message A {}
message B {}
`;

const envelopes = (req: string, res: string) => `
message Req { ${req} }
message Res { ${res} }
`;

const ok = {
  req: "uint64 message_id = 1; uint32 control_code = 2; oneof body { A call = 3; }",
  res: "uint64 message_id = 1; uint32 control_code = 2; oneof body { B call = 3; protosocket.v1.Status error = 15; }",
};

/** One file `bad/v1/bad.proto` with service `S`. */
export function bad(opts: { envelope?: string; methods?: string; req?: string; res?: string; extra?: string }): string {
  return `${head}
service S {
  option (protosocket.v1.envelope) = { ${opts.envelope ?? `request: "Req" response: "Res"`} };
  ${opts.methods ?? "rpc Call(A) returns (B);"}
}
${envelopes(opts.req ?? ok.req, opts.res ?? ok.res)}
${opts.extra ?? ""}
`;
}
