/**
 * Wire parity: the request frames of interop/vectors/frames.json, written raw
 * to a socket, must be answered with the exact response frames of the same
 * file — by the Rust interop-server and by the TypeScript interop server alike.
 */
import { fromBinary } from "@bufbuild/protobuf";
import { Code, connect, createClient } from "@protosocket/runtime";
import { createFrameDecoder } from "@protosocket/runtime/protocol";
import { readFileSync } from "node:fs";
import { connect as netConnect, createServer as createNetServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ResponseSchema } from "@protosocket/gen/interop/v1/interop_pb.js";
import { InteropServiceDefinition } from "@protosocket/gen/interop/v1/interop_service_protosocket.js";
import { startInteropServer, type InteropServer } from "./interop-server.js";
import { repoRoot, rustPeersStatus, startRustServer, type RustServer } from "./rust-peers.js";

const frames = new Map(
  (
    JSON.parse(readFileSync(join(repoRoot, "interop/vectors/frames.json"), "utf8")) as { cases: { name: string; frame_hex: string }[] }
  ).cases.map((c) => [c.name, c.frame_hex]),
);
const frame = (name: string): string => {
  const f = frames.get(name);
  if (f === undefined) throw new Error(`no vector ${name}`);
  return f;
};

/** Request vector → the response vector both servers must answer with. */
const PAIRS: [request: string, response: string][] = [
  ["request_echo", "response_echo"],
  ["request_echo_empty_body", "response_echo_empty_body"],
  ["request_id_0", "response_id_0"],
  ["request_id_300", "response_id_300"],
  ["request_id_max", "response_id_max"],
  ["request_fail", "response_error_with_details"],
  ["request_reject", "response_cancel"],
];

/** Writes `hex` to a fresh connection and returns the hex of the first `count` frames received. */
async function exchange(port: number, hex: string, count = 1): Promise<string[]> {
  const socket = netConnect({ host: "127.0.0.1", port });
  const got: string[] = [];
  const decoder = createFrameDecoder();
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${got.length} of ${count} frames within 5 s`)), 5_000);
      socket.on("error", reject);
      socket.on("data", (chunk: Buffer) => {
        decoder.push(chunk, (body) => {
          got.push(Buffer.concat([encodeLength(body.byteLength), Buffer.from(body)]).toString("hex"));
        });
        if (got.length >= count) {
          clearTimeout(timer);
          resolve();
        }
      });
      socket.write(Buffer.from(hex, "hex"));
    });
  } finally {
    socket.destroy();
  }
  return got;
}

function encodeLength(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}

const status = rustPeersStatus();

if (status.failure !== undefined) {
  describe("wire parity", () => {
    it("needs the Rust interop binaries (CI is set)", () => {
      throw new Error(status.failure);
    });
  });
}

describe.skipIf(!status.run)(
  `wire parity: raw vector frames in, exact vector frames out${status.skipReason !== undefined ? ` — skipped: ${status.skipReason}` : ""}`,
  () => {
    let rust: RustServer;
    let ts: InteropServer;
    beforeAll(async () => {
      rust = await startRustServer();
      ts = await startInteropServer();
    });
    afterAll(async () => {
      await ts?.close();
      await rust?.stop();
    });

    for (const [request, response] of PAIRS) {
      it(`${request} → ${response}, from the Rust server and from ours`, async () => {
        expect(await exchange(rust.port, frame(request))).toEqual([frame(response)]);
        expect(await exchange(ts.port, frame(request))).toEqual([frame(response)]);
      });
    }

    it("a stream of 10: the same item frames then the same End frame from both", async () => {
      // stream{count 10, payload_size 16, item_delay_ms 1} with id 2
      const fromRust = await exchange(rust.port, frame("request_stream"), 11);
      const fromTs = await exchange(ts.port, frame("request_stream"), 11);
      expect(fromTs).toEqual(fromRust);
      expect(fromRust.at(-1)).toBe(frame("response_end"));
    });

    it("a request without a body: the Rust server rejects it with Cancel, ours answers the error case unimplemented (documented difference)", async () => {
      // The Rust interop service maps a missing body to RpcKind::Cancelled; our runtime
      // answers a request it cannot dispatch with the envelope's error case.
      expect(await exchange(rust.port, frame("request_no_body"))).toEqual(["0408071001"]);
      const [ours] = await exchange(ts.port, frame("request_no_body"));
      const env = fromBinary(ResponseSchema, Buffer.from(ours ?? "", "hex").subarray(1));
      expect(env.requestId).toBe(7n);
      expect(env.code).toBe(0);
      expect(env.body.case).toBe("error");
      expect(env.body.case === "error" ? env.body.value.code : undefined).toBe(Code.Unimplemented);
    });
  },
);

describe("wire parity: our client's request frames are the Rust vectors, byte for byte", () => {
  it("ids 1..6 on a fresh transport: echo, stream, sleep, fail, reject, its Cancel, stats", async () => {
    // A raw server that records frames and answers nothing.
    const received: string[] = [];
    const decoder = createFrameDecoder();
    const raw = createNetServer((socket) => {
      socket.on("data", (chunk: Buffer) =>
        decoder.push(chunk, (body) => received.push(Buffer.concat([encodeLength(body.byteLength), Buffer.from(body)]).toString("hex"))),
      );
      socket.on("error", () => {});
    });
    await new Promise<void>((r) => raw.listen(0, "127.0.0.1", () => r()));
    const transport = await connect({ port: (raw.address() as AddressInfo).port });
    const until = async (n: number) => {
      for (let i = 0; i < 500 && received.length < n; i++) await new Promise((r) => setTimeout(r, 10));
      expect(received.length).toBe(n);
    };
    try {
      const client = createClient(InteropServiceDefinition, transport);
      // Nothing is ever answered: the calls end when the transport closes.
      const pending = { push: (p: Promise<unknown>) => void p.catch(() => {}) };
      pending.push(client.echo({ message: "hello", payload: new Uint8Array([1, 2, 3, 4, 5]) }));
      await until(1);
      const stream = client.stream({ count: 10n, payloadSize: 16, itemDelayMs: 1 })[Symbol.asyncIterator]();
      pending.push(stream.next());
      await until(2);
      pending.push(client.sleep({ ms: 10_000 }));
      await until(3);
      pending.push(client.fail({ code: 5, message: "not here", withDetails: true }));
      await until(4);
      const ac = new AbortController();
      pending.push(client.reject({}, { signal: ac.signal }));
      await until(5);
      ac.abort();
      await until(6);
      pending.push(client.stats({}));
      await until(7);
      expect(received).toEqual(
        ["request_echo", "request_stream", "request_sleep", "request_fail", "request_reject", "request_cancel", "request_stats"].map(frame),
      );
    } finally {
      transport.close();
      await new Promise<void>((r) => raw.close(() => r()));
    }
  });
});
