/**
 * Every subcommand against the echo example server (examples/echo, its own
 * process), through the built bin, with the JSON output parsed and checked.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BenchSummary, MethodDetail, ServiceDescription } from "../src/index.js";
import { echoSchema, jsonLines, repoRoot, runProtosocket } from "./support/cli.js";
import { closedPort, startEchoServer, testCert, type ServerProcess } from "./support/servers.js";

let echo: ServerProcess;
let target: string;
let scratch: string;

beforeAll(async () => {
  echo = await startEchoServer();
  target = `127.0.0.1:${echo.port}`;
  scratch = mkdtempSync(join(tmpdir(), "protosocket-cli-test-"));
});

afterAll(async () => {
  await echo?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

describe("list and describe (echo.proto, no server needed)", () => {
  it("list --json: the echo service, bound, with its methods and kinds", async () => {
    const run = await runProtosocket(["list", ...echoSchema, "--json"]);
    expect(run.code, run.stderr).toBe(0);
    const services = JSON.parse(run.stdout) as ServiceDescription[];
    // protosocket.v1.Health comes with the echo envelopes' health cases, bound through them.
    expect(services.map((s) => [s.name, s.bound])).toEqual([
      ["echo.v1.EchoService", true],
      ["protosocket.v1.Health", true],
    ]);
    expect(services[0]?.methods.map((m) => [m.fullName, m.kind])).toEqual([
      ["echo.v1.EchoService/Echo", "unary"],
      ["echo.v1.EchoService/Count", "server_streaming"],
      ["echo.v1.EchoService/Fail", "unary"],
    ]);
  });

  it("list <service> prints one method per line with its kind", async () => {
    const run = await runProtosocket(["list", "EchoService", ...echoSchema]);
    expect(run.code, run.stderr).toBe(0);
    expect(
      run.stdout
        .trim()
        .split("\n")
        .map((l) => l.trim().split(/\s{2,}/)),
    ).toEqual([
      ["echo.v1.EchoService/Echo", "unary"],
      ["echo.v1.EchoService/Count", "server streaming"],
      ["echo.v1.EchoService/Fail", "unary"],
    ]);
  });

  it("describe <service> --json: envelopes, id and code fields, error case and case paths with field numbers", async () => {
    const run = await runProtosocket(["describe", "echo.v1.EchoService", ...echoSchema, "--json"]);
    expect(run.code, run.stderr).toBe(0);
    const s = JSON.parse(run.stdout) as ServiceDescription;
    expect(s.envelopes?.request).toEqual({
      type: "echo.v1.EchoRequestEnvelope",
      messageId: { field: "message_id", number: 1 },
      controlCode: { field: "control_code", number: 2 },
    });
    expect(s.envelopes?.response.error).toEqual({
      path: "error",
      numbers: [15],
      type: "protosocket.v1.Status",
      codeField: "code",
      messageField: "message",
      detailsField: "details",
    });
    expect(s.methods.find((m) => m.name === "Count")?.responseCase).toEqual({ path: "count", numbers: [4], type: "echo.v1.CountResponse" });
  });

  it("describe <method> --json: kind, cases and the input's fields with their JSON names", async () => {
    const run = await runProtosocket(["describe", "echo.v1.EchoService/Count", ...echoSchema, "--json"]);
    expect(run.code, run.stderr).toBe(0);
    const m = JSON.parse(run.stdout) as MethodDetail;
    expect(m.kind).toBe("server_streaming");
    expect(m.requestCase).toEqual({ path: "count", numbers: [4], type: "echo.v1.CountRequest" });
    expect(m.inputType.fields.map((f) => [f.name, f.jsonName, f.type])).toEqual([
      ["count", "count", "uint32"],
      ["delay_ms", "delayMs", "uint32"],
      ["payload_size", "payloadSize", "uint32"],
    ]);
  });

  it("--image: a buf image (binary and JSON) gives what --proto gives", async () => {
    const fromProto = await runProtosocket(["describe", "echo.v1.EchoService", ...echoSchema, "--json"]);
    const bin = join(scratch, "echo.binpb");
    const json = join(scratch, "echo.json");
    // Images the way a user makes them: buf build of the repository's module.
    for (const out of [bin, json]) {
      const r = spawnSync(
        process.execPath,
        [join(repoRoot, "node_modules/@bufbuild/buf/bin/buf"), "build", "-o", out, "--path", "proto/echo/v1/echo.proto"],
        {
          cwd: repoRoot,
          encoding: "utf8",
        },
      );
      expect(r.status, r.stderr).toBe(0);
    }
    for (const image of [bin, json]) {
      const run = await runProtosocket(["describe", "echo.v1.EchoService", "--image", image, "--json"]);
      expect(run.code, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout)).toEqual(JSON.parse(fromProto.stdout));
    }
  });
});

describe("call", () => {
  it("a unary call prints the response as JSON (bytes as base64)", async () => {
    const run = await runProtosocket([
      "call",
      target,
      "echo.v1.EchoService/Echo",
      ...echoSchema,
      "-d",
      '{"message":"hi","payload":"aGk="}',
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ message: "hi", payload: "aGk=" });
  });

  it("a stream prints one JSON object per line", async () => {
    const run = await runProtosocket(["call", target, "echo.v1.EchoService/Count", ...echoSchema, "-d", '{"count":5}']);
    expect(run.code, run.stderr).toBe(0);
    expect(jsonLines(run.stdout)).toEqual([1, 2, 3, 4, 5].map((n) => ({ n })));
  });

  it("reads the request from piped stdin, from -d @file and from -d @-; --emit-defaults prints zero values", async () => {
    const piped = await runProtosocket(["call", target, "EchoService/Echo", ...echoSchema], { stdin: '{"message":"from stdin"}' });
    expect(piped.code, piped.stderr).toBe(0);
    expect(JSON.parse(piped.stdout)).toEqual({ message: "from stdin" });
    const file = join(scratch, "request.json");
    writeFileSync(file, '{"message":"from a file"}');
    const fromFile = await runProtosocket(["call", target, "EchoService/Echo", ...echoSchema, "-d", `@${file}`, "--emit-defaults"]);
    expect(fromFile.code, fromFile.stderr).toBe(0);
    expect(JSON.parse(fromFile.stdout)).toEqual({ message: "from a file", payload: "" });
    const dash = await runProtosocket(["call", target, "EchoService/Echo", ...echoSchema, "-d", "@-"], { stdin: '{"message":"dash"}' });
    expect(JSON.parse(dash.stdout)).toEqual({ message: "dash" });
  });

  it("an RPC error prints code and message on stderr and exits 64 + code", async () => {
    const run = await runProtosocket([
      "call",
      target,
      "echo.v1.EchoService/Fail",
      ...echoSchema,
      "-d",
      '{"code":5,"message":"no such thing"}',
    ]);
    expect(run.code).toBe(64 + 5);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain("not_found (code 5): no such thing");
    expect(run.stderr).toContain(`method echo.v1.EchoService/Fail, peer ${target}`);
  });

  it("--timeout: a stream slower than the deadline fails deadline_exceeded (exit 68) after the messages that came in time", async () => {
    const run = await runProtosocket([
      "call",
      target,
      "echo.v1.EchoService/Count",
      ...echoSchema,
      "-d",
      '{"count":3,"delayMs":5000}',
      "--timeout",
      "300ms",
    ]);
    expect(run.code).toBe(64 + 4);
    expect(run.stderr).toContain("deadline_exceeded");
  });

  it("usage errors exit 2 and say what was meant: unknown method, unknown service, unknown field, invalid JSON", async () => {
    const method = await runProtosocket(["call", target, "echo.v1.EchoService/Ech", ...echoSchema]);
    expect(method.code).toBe(2);
    expect(method.stderr).toContain('has no method "Ech"; did you mean "Echo"?');
    const service = await runProtosocket(["call", target, "echo.v1.EchoServise/Echo", ...echoSchema]);
    expect(service.code).toBe(2);
    expect(service.stderr).toContain('unknown service "echo.v1.EchoServise"; did you mean "echo.v1.EchoService"?');
    const field = await runProtosocket(["call", target, "echo.v1.EchoService/Echo", ...echoSchema, "-d", '{"mesage":"x"}']);
    expect(field.code).toBe(2);
    expect(field.stderr).toContain('field mesage: echo.v1.EchoRequest has no field "mesage"; did you mean "message"?');
    const json = await runProtosocket(["call", target, "echo.v1.EchoService/Echo", ...echoSchema, "-d", '{"message":']);
    expect(json.code).toBe(2);
    expect(json.stderr).toContain("-d: invalid JSON");
  });

  it("an unreachable host exits 4 (connection), distinct from usage and RPC errors", async () => {
    const port = await closedPort();
    const run = await runProtosocket(["call", `127.0.0.1:${port}`, "echo.v1.EchoService/Echo", ...echoSchema]);
    expect(run.code).toBe(4);
    expect(run.stderr).toContain(`cannot connect to 127.0.0.1:${port}`);
    expect(run.stderr).toContain("ECONNREFUSED");
    expect(run.stderr).toContain(`is the server running, listening on this host and port`);
  });

  it("-H metadata travels in the echo envelope's metadata field; the trailers the server sends back go to stderr", async () => {
    // The echo example's Echo handler returns the x-request-id it is sent as a trailer.
    const run = await runProtosocket([
      "call",
      target,
      "echo.v1.EchoService/Echo",
      ...echoSchema,
      "-d",
      '{"message":"m"}',
      "-H",
      "x-request-id: cli-1",
    ]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ message: "m" });
    expect(run.stderr).toBe("trailer x-request-id: cli-1\n");
  });
});

describe("TLS", () => {
  let tlsEcho: ServerProcess;
  beforeAll(async () => {
    tlsEcho = await startEchoServer({ tls: true });
  });
  afterAll(async () => {
    await tlsEcho?.stop();
  });

  it("--tls with --cacert calls a TLS server", async () => {
    const run = await runProtosocket([
      "call",
      `localhost:${tlsEcho.port}`,
      "echo.v1.EchoService/Echo",
      ...echoSchema,
      "--tls",
      "--cacert",
      testCert.certPath,
      "-d",
      '{"message":"over tls"}',
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ message: "over tls" });
  });

  it("an untrusted certificate exits 4 and says to use --cacert; TLS against a plaintext server says to leave out --tls", async () => {
    const untrusted = await runProtosocket(["call", `localhost:${tlsEcho.port}`, "echo.v1.EchoService/Echo", ...echoSchema, "--tls"]);
    expect(untrusted.code).toBe(4);
    expect(untrusted.stderr).toContain("TLS handshake with localhost");
    expect(untrusted.stderr).toContain("--cacert");
    const plain = await runProtosocket(["call", target, "echo.v1.EchoService/Echo", ...echoSchema, "--tls", "--insecure"]);
    expect(plain.code).toBe(4);
    expect(plain.stderr).toContain("TLS handshake");
  });

  it("plaintext against a TLS server: the call fails unavailable (exit 78) with a hint to add --tls", async () => {
    const run = await runProtosocket(["call", `127.0.0.1:${tlsEcho.port}`, "echo.v1.EchoService/Echo", ...echoSchema]);
    expect(run.code).toBe(64 + 14);
    expect(run.stderr).toContain("add --tls");
  });

  it("--cert without --key is a usage error", async () => {
    const run = await runProtosocket(["call", target, "echo.v1.EchoService/Echo", ...echoSchema, "--cert", testCert.certPath]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("--cert and --key go together");
  });
});

describe("health", () => {
  it("health: the echo server registers health (protosocket.v1.Health through the echo envelopes): SERVING, exit 0; an unknown service exits 64 + not_found", async () => {
    const run = await runProtosocket(["health", target, ...echoSchema, "--json"]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      service: "",
      status: "SERVING",
      serving: true,
      checkedWith: "protosocket.v1.Health/Check",
    });
    const service = await runProtosocket(["health", target, "echo.v1.EchoService", ...echoSchema]);
    expect([service.code, service.stdout.trim()]).toEqual([0, "SERVING"]);
    const unknown = await runProtosocket(["health", target, "nope.v1.Nope", ...echoSchema]);
    expect(unknown.code).toBe(64 + 5);
  });
});

describe("bench", () => {
  it("-n: exactly N calls over several connections; the JSON summary adds up; no progress line when piped", async () => {
    const run = await runProtosocket([
      "bench",
      target,
      "echo.v1.EchoService/Echo",
      ...echoSchema,
      "-d",
      '{"message":"hello","payload":"YWFhYWFhYWFhYWFhYWFhYQ=="}',
      "-c",
      "8",
      "--connections",
      "2",
      "-n",
      "500",
      "--json",
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toBe("");
    const s = JSON.parse(run.stdout) as BenchSummary;
    expect(s.calls).toEqual({ ok: 500, failed: 0 });
    expect(s.stoppedBy).toBe("count");
    expect(s.connections).toBe(2);
    expect(s.messages).toBe(500);
    expect(s.histogram.buckets.reduce((n, b) => n + b.count, 0)).toBe(500);
    expect(s.latencyUs.min).toBeLessThanOrEqual(s.latencyUs.p50);
    expect(s.latencyUs.p50).toBeLessThanOrEqual(s.latencyUs.p90);
    expect(s.latencyUs.p90).toBeLessThanOrEqual(s.latencyUs.p99);
    expect(s.latencyUs.p99).toBeLessThanOrEqual(s.latencyUs.p999);
    expect(s.latencyUs.p999).toBeLessThanOrEqual(s.latencyUs.max);
    expect(s.callsPerSecond).toBeGreaterThan(0);
    expect(s.histogram.hdr).toMatch(/^[A-Za-z0-9+/=]+$/);
  });

  it("a stream method counts calls and messages; --duration ends the window", async () => {
    const run = await runProtosocket([
      "bench",
      target,
      "echo.v1.EchoService/Count",
      ...echoSchema,
      "-d",
      '{"count":20}',
      "-c",
      "4",
      "--duration",
      "500ms",
      "--json",
    ]);
    expect(run.code, run.stderr).toBe(0);
    const s = JSON.parse(run.stdout) as BenchSummary;
    expect(s.stoppedBy).toBe("duration");
    expect(s.kind).toBe("server_streaming");
    expect(s.calls.ok).toBeGreaterThan(0);
    expect(s.messages).toBe(s.calls.ok * 20);
  });

  it("failed calls are counted by code and the run exits 6", async () => {
    const run = await runProtosocket([
      "bench",
      target,
      "echo.v1.EchoService/Fail",
      ...echoSchema,
      "-d",
      '{"code":8,"message":"busy"}',
      "-c",
      "4",
      "-n",
      "40",
      "--json",
    ]);
    expect(run.code).toBe(6);
    const s = JSON.parse(run.stdout) as BenchSummary;
    expect(s.calls).toEqual({ ok: 0, failed: 40 });
    expect(s.errors).toEqual([{ code: "resource_exhausted", count: 40, example: expect.stringContaining("busy") as unknown }]);
  });

  it("the text report names the percentiles and status codes", async () => {
    const run = await runProtosocket(["bench", target, "echo.v1.EchoService/Echo", ...echoSchema, "-c", "2", "-n", "50"]);
    expect(run.code, run.stderr).toBe(0);
    for (const label of ["Calls/s:", "p50", "p90", "p99", "p99.9", "Latency histogram:", "[ok]  50"]) expect(run.stdout).toContain(label);
  });
});
