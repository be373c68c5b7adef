/**
 * A DNS server on 127.0.0.1 (UDP) whose answers a test sets and changes: A
 * and SRV records, TTL 0, NODATA for other types of a known name, NXDOMAIN
 * for unknown names. Enough for node:dns (c-ares) pointed at it with
 * `dns.Resolver#setServers` (the pool does that for "dns://127.0.0.1:port/…").
 */
import { createSocket, type Socket } from "node:dgram";

/** An SRV record. */
export interface SrvRecord {
  priority: number;
  weight: number;
  port: number;
  target: string;
}

export interface TestDnsServer {
  readonly port: number;
  /** "127.0.0.1:port", for a target's authority. */
  readonly address: string;
  /** Sets the A records of `name` (no trailing dot). */
  setA(name: string, addresses: string[]): void;
  /** Sets the SRV records of `name`. */
  setSrv(name: string, records: SrvRecord[]): void;
  /** Queries answered so far. */
  readonly queries: number;
  close(): Promise<void>;
}

const TYPE_A = 1;
const TYPE_SRV = 33;

function encodeName(name: string): Buffer {
  const parts = name.split(".").filter((p) => p.length > 0);
  return Buffer.concat([...parts.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p, "ascii")])), Buffer.from([0])]);
}

/** Reads the question: its name (lower case, no trailing dot), type, and where it ends. */
function readQuestion(msg: Buffer): { name: string; type: number; end: number } | undefined {
  let pos = 12;
  const labels: string[] = [];
  while (pos < msg.length) {
    const len = msg[pos] as number;
    pos++;
    if (len === 0) break;
    if (len > 63 || pos + len > msg.length) return undefined;
    labels.push(
      msg
        .subarray(pos, pos + len)
        .toString("ascii")
        .toLowerCase(),
    );
    pos += len;
  }
  if (pos + 4 > msg.length) return undefined;
  return { name: labels.join("."), type: msg.readUInt16BE(pos), end: pos + 4 };
}

export async function startDnsServer(): Promise<TestDnsServer> {
  const a = new Map<string, string[]>();
  const srv = new Map<string, SrvRecord[]>();
  let queries = 0;
  const socket: Socket = createSocket("udp4");
  socket.on("message", (msg, rinfo) => {
    const q = readQuestion(msg);
    if (q === undefined) return;
    queries++;
    const answers: Buffer[] = [];
    const known = a.has(q.name) || srv.has(q.name);
    if (q.type === TYPE_A) {
      for (const ip of a.get(q.name) ?? []) {
        answers.push(
          Buffer.concat([Buffer.from([0xc0, 0x0c]), u16(TYPE_A), u16(1), u32(0), u16(4), Buffer.from(ip.split(".").map(Number))]),
        );
      }
    } else if (q.type === TYPE_SRV) {
      for (const r of srv.get(q.name) ?? []) {
        const data = Buffer.concat([u16(r.priority), u16(r.weight), u16(r.port), encodeName(r.target)]);
        answers.push(Buffer.concat([Buffer.from([0xc0, 0x0c]), u16(TYPE_SRV), u16(1), u32(0), u16(data.length), data]));
      }
    }
    const header = Buffer.alloc(12);
    msg.copy(header, 0, 0, 2); // id
    header.writeUInt16BE(0x8180 | (known ? 0 : 3), 2); // response, recursion desired + available; NXDOMAIN for unknown names
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    socket.send(Buffer.concat([header, msg.subarray(12, q.end), ...answers]), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  const port = socket.address().port;
  return {
    port,
    address: `127.0.0.1:${port}`,
    setA: (name, addresses) => a.set(name.toLowerCase(), addresses),
    setSrv: (name, records) => srv.set(name.toLowerCase(), records),
    get queries() {
      return queries;
    },
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}
