import { create, createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import { codeToString, defineStandardService, RpcError, type ConnectionTransport } from "@protosocket/runtime";
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  ServerReflection,
  type ServerReflectionRequestSchema,
  type ServerReflectionResponse,
} from "@protosocket/runtime/gen/protosocket/v1/reflection_pb.js";
import { streamCaller } from "@protosocket/runtime/protocol";
import { openConnection } from "../connection.js";
import { schemaError } from "../exit-codes.js";
import { connectOptionsFrom, type ConnectionFlags, type Target } from "../options/target.js";
import { closeAfterFlush } from "../rpc-output.js";
import { Schema } from "./schema.js";

/** How long the reflection calls may take, together, unless `--timeout` says otherwise. */
const REFLECTION_TIMEOUT_MS = 10_000;

/**
 * Reflection's client: probing, so that a server that does not serve
 * reflection (or speaks other envelopes) refuses the request and closes the
 * connection instead of misreading it.
 */
const reflection = defineStandardService(ServerReflection, { probe: true });
const info = ServerReflection.method.serverReflectionInfo;

type Request = MessageInitShape<typeof ServerReflectionRequestSchema>;

/**
 * Loads the schema of the server at `target` by reflection (the server must
 * call registerReflection): its services, then the file declaring each, with
 * every file those import.
 *
 * @throws CliError: connection when nothing answers, schema when the server
 * does not serve reflection or its answer does not make a schema.
 */
export async function reflectSchema(target: Target, flags: ConnectionFlags & { timeout?: number }): Promise<Schema> {
  const where = `${target.host}:${target.port}`;
  const transport = await openConnection(connectOptionsFrom(target, flags));
  const timeoutMs = flags.timeout ?? REFLECTION_TIMEOUT_MS;
  try {
    const listed = await ask(transport, [{ messageRequest: { case: "listServices", value: "" } }], timeoutMs, where);
    const list = listed[0]?.messageResponse;
    if (list?.case !== "listServicesResponse") throw unexpected(where, listed[0]);
    const names = list.value.service.map((s) => s.name);
    const answers = await ask(
      transport,
      names.map((name) => ({ messageRequest: { case: "fileContainingSymbol", value: name } })),
      timeoutMs,
      where,
    );
    const files = new Map<string, FileDescriptorProto>();
    for (const [i, answer] of answers.entries()) {
      const r = answer.messageResponse;
      if (r.case === "errorResponse") {
        throw schemaError(`${where} listed ${names[i]} but could not describe it: ${r.value.errorMessage} (code ${r.value.errorCode})`);
      }
      if (r.case !== "fileDescriptorResponse") throw unexpected(where, answer);
      for (const bytes of r.value.fileDescriptorProto) {
        const file = fromBinary(FileDescriptorProtoSchema, bytes);
        if (!files.has(file.name)) files.set(file.name, file);
      }
    }
    try {
      return new Schema(createFileRegistry(create(FileDescriptorSetSchema, { file: importsFirst(files) })));
    } catch (e) {
      throw schemaError(`the schema ${where} reflected does not load: ${(e as Error).message}`, e);
    }
  } finally {
    await closeAfterFlush(transport);
  }
}

/** One reflection call: the requests, and their answers in order. */
async function ask(
  transport: ConnectionTransport,
  requests: Request[],
  timeoutMs: number,
  where: string,
): Promise<ServerReflectionResponse[]> {
  async function* all() {
    yield* requests;
  }
  const out: ServerReflectionResponse[] = [];
  try {
    for await (const answer of streamCaller(transport, reflection, info)(all(), { timeoutMs })) {
      out.push(answer as ServerReflectionResponse);
    }
  } catch (e) {
    if (!(e instanceof RpcError)) throw e;
    throw schemaError(
      `${where} does not serve reflection (${codeToString(e.code)}: ${e.rawMessage}); servers enable it with registerReflection(server). Without it, name the service's protos with --proto file.proto (and -I for their imports) or a buf image with --image image.binpb`,
      e,
    );
  }
  if (out.length !== requests.length) throw schemaError(`${where} answered ${out.length} of ${requests.length} reflection requests`);
  return out;
}

function unexpected(where: string, answer: ServerReflectionResponse | undefined) {
  return schemaError(`${where} answered reflection with ${answer?.messageResponse.case ?? "nothing"}`);
}

/** The files with each one after the files it imports, as a registry takes them (reflection lists a file before its imports). */
function importsFirst(files: ReadonlyMap<string, FileDescriptorProto>): FileDescriptorProto[] {
  const ordered: FileDescriptorProto[] = [];
  const done = new Set<string>();
  const visit = (name: string) => {
    const file = files.get(name);
    if (file === undefined || done.has(name)) return;
    done.add(name);
    for (const dep of file.dependency) visit(dep);
    ordered.push(file);
  };
  for (const name of files.keys()) visit(name);
  return ordered;
}
