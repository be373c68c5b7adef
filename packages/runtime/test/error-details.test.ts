import { createRegistry } from "@bufbuild/protobuf";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import { afterEach, describe, expect, it } from "vitest";
import {
  Code,
  connect,
  createClient,
  createServer,
  RpcError,
  type ConnectionTransport,
  type Server,
  type ServerOptions,
} from "../src/index.js";
import {
  BadRequestSchema,
  ErrorInfoSchema,
  file_google_rpc_error_details,
  RetryInfoSchema,
} from "../src/gen/google/rpc/error_details_pb.js";
import { echoImpl } from "./support/echo-server.js";
import { echoDef } from "./support/services.js";

describe("errors a handler throws", () => {
  let server: Server | undefined;
  let transport: ConnectionTransport | undefined;
  afterEach(async () => {
    transport?.close();
    await server?.close({ graceMs: 0 });
  });

  async function start(fail: (message: string) => never, options: ServerOptions = {}) {
    server = createServer(options);
    server.register(echoDef, { ...echoImpl({ aborted: 0, streamsFinished: 0, yielded: 0 }), fail: (req) => fail(req.message) });
    const { port } = await server.listen();
    transport = await connect({ port });
    return createClient(echoDef, transport);
  }

  it("carry typed google.rpc details to the client, found by schema or by registry", async () => {
    const client = await start(() => {
      throw new RpcError(Code.ResourceExhausted, "slow down", [
        { desc: ErrorInfoSchema, value: { reason: "QUOTA", domain: "example.com", metadata: { limit: "10" } } },
        { desc: RetryInfoSchema, value: { retryDelay: { seconds: 2n, nanos: 0 } } },
        { desc: BadRequestSchema, value: { fieldViolations: [{ field: "name", description: "empty" }] } },
      ]);
    });
    const err = (await client.fail({ code: 0, message: "" }).catch((e: unknown) => e)) as RpcError;
    expect(err.code).toBe(Code.ResourceExhausted);
    expect(err.details).toHaveLength(3);
    const [info] = err.findDetails(ErrorInfoSchema);
    expect(info).toMatchObject({ reason: "QUOTA", domain: "example.com", metadata: { limit: "10" } });
    expect(err.findDetails(RetryInfoSchema)[0]?.retryDelay?.seconds).toBe(2n);
    expect(err.findDetails(BadRequestSchema)[0]?.fieldViolations[0]?.field).toBe("name");
    expect(err.findDetails(DurationSchema)).toEqual([]);
    const all = err.findDetails(createRegistry(file_google_rpc_error_details));
    expect(all.map((m) => m.$typeName)).toEqual(["google.rpc.ErrorInfo", "google.rpc.RetryInfo", "google.rpc.BadRequest"]);
  });

  it("do not leak the message of a plain Error: the client gets unknown with a generic message, onHandlerError the real one", async () => {
    const reported: string[] = [];
    const client = await start(
      (m) => {
        throw new Error(`connect ECONNREFUSED 10.0.0.7:5432 while running ${m}`);
      },
      { onHandlerError: (e) => reported.push(e.rawMessage) },
    );
    const err = (await client.fail({ code: 0, message: "SELECT secret" }).catch((e: unknown) => e)) as RpcError;
    expect(err.code).toBe(Code.Unknown);
    expect(err.rawMessage).not.toMatch(/10\.0\.0\.7|SELECT/);
    expect(err.rawMessage).toMatch(/does not send its error's message/);
    expect(reported).toEqual(["connect ECONNREFUSED 10.0.0.7:5432 while running SELECT secret"]);
  });

  it("send a plain Error's message when the server exposes error messages on purpose", async () => {
    const client = await start(
      (m) => {
        throw new Error(`visible: ${m}`);
      },
      { exposeErrorMessages: true },
    );
    const err = (await client.fail({ code: 0, message: "x" }).catch((e: unknown) => e)) as RpcError;
    expect([err.code, err.rawMessage]).toEqual([Code.Unknown, "visible: x"]);
  });
});
