// Every system the benchmark knows, in table order. Modules load lazily, so a process
// imports only the system it runs (and a missing optional dependency breaks only its own).

import type { System } from "../system.js";

export const SYSTEM_LOADERS: Readonly<Record<string, () => Promise<System>>> = {
  protosocket: async () => (await import("./protosocket.js")).protosocket,
  "protosocket-4conn": async () => (await import("./protosocket.js")).protosocket4conn,
  "protosocket-intercepted": async () => (await import("./protosocket.js")).protosocketIntercepted,
  "protosocket-standard": async () => (await import("./protosocket-standard.js")).protosocketStandard,
  "protosocket-pool4": async () => (await import("./protosocket-scaled.js")).protosocketPool4,
  "protosocket-3proc": async () => (await import("./protosocket-scaled.js")).protosocket3proc,
  "protosocket-cluster": async () => (await import("./protosocket-scaled.js")).protosocketCluster,
  "protosocket-msgpack": async () => (await import("./protosocket-msgpack.js")).protosocketMsgpack,
  "connect-transport": async () => (await import("./connect-transport.js")).connectTransportSystem,
  "connect-served": async () => (await import("./connect-transport.js")).connectServedSystem,
  "grpc-js": async () => (await import("./grpc-js.js")).grpcJs,
  "connect-grpc": async () => (await import("./connect-node.js")).connectGrpc,
  connect: async () => (await import("./connect-node.js")).connectProtocol,
  thrift: async () => (await import("./thrift.js")).thriftSystem,
  raw: async () => (await import("./raw.js")).raw,
  "rust-server": async () => (await import("./rust.js")).rustServer,
  "rust-client": async () => (await import("./rust.js")).rustClient,
  rust: async () => (await import("./rust.js")).rust,
};

export const SYSTEM_NAMES: readonly string[] = Object.keys(SYSTEM_LOADERS);

export async function loadSystem(name: string): Promise<System> {
  const loader = SYSTEM_LOADERS[name];
  if (loader === undefined) throw new Error(`unknown system "${name}" (known: ${SYSTEM_NAMES.join(", ")})`);
  return loader();
}
