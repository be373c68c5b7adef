/**
 * Server reflection (protosocket/v1/reflection.proto, grpc.reflection.v1's
 * messages): a server describes its services and the file descriptors that
 * declare them, with every file those import, on the standard envelope.
 */
import { toBinary, type DescExtension, type DescFile, type DescMessage, type DescService, type MessageInitShape } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { codecsOf, envelopeBindingClash } from "../encoding/codecs.js";
import type { AnyServiceDefinition } from "../encoding/service.js";
import { Code, RpcError } from "../errors.js";
import {
  ServerReflection,
  type ServerReflectionRequest,
  type ServerReflectionResponseSchema,
} from "../gen/protosocket/v1/reflection_pb.js";
import { defineStandardService } from "../protobuf/define-standard.js";
import type { Server } from "./server.js";
import { serverInternals } from "./server-internals.js";
import { registerSideService, sideServices } from "./side-services.js";

/**
 * Serves reflection on `server`: its services (those registered when it
 * starts serving, reflection and health included) and the file descriptors
 * that declare them, with every file they import, as grpc.reflection.v1
 * does, so `protosocket list host:port`, `describe` and `call` work with no
 * .proto. Off unless called; call it after registering the services, before
 * listen(). Anyone who can connect can read the schema: put it behind the
 * server's interceptors (they run for reflection too) where that matters.
 *
 * On a server of services on the standard envelope, reflection is one more
 * such service. On a server of services bound to envelopes of their own, it
 * is served on the connections that open with a probing frame (a standard
 * request frame that starts with 0x00, which no envelope decodes): the
 * descriptors carry the envelope options a tool binds the services with.
 *
 * @throws RpcError `failed_precondition` before any service is registered, or
 * when the services have no protobuf descriptors (MessagePack).
 */
export function registerReflection(server: Server): void {
  const internals = serverInternals(server);
  const first = internals.definitions()[0];
  if (first === undefined) {
    throw new RpcError(Code.FailedPrecondition, "register the server's services before registerReflection(): reflection describes them");
  }
  const def = defineStandardService(ServerReflection);
  let index: ReflectionIndex | undefined;
  const impl = {
    async *serverReflectionInfo(requests: AsyncIterable<ServerReflectionRequest>) {
      // The services are fixed once the server serves, which it does by the time a request arrives.
      index ??= new ReflectionIndex([...internals.definitions(), ...sideServices(server)]);
      for await (const request of requests) yield index.answer(request);
    },
  };
  if (envelopeBindingClash(first, def) === undefined) {
    server.register(def, impl);
    return;
  }
  if (codecsOf(first).framing !== codecsOf(def).framing || !hasDescriptor(first)) {
    throw new RpcError(
      Code.FailedPrecondition,
      `registerReflection: ${first.service.typeName} is encoded with ${first.encoding.name}, which has no protobuf descriptors to describe`,
    );
  }
  registerSideService(server, def, impl);
}

function hasDescriptor(def: AnyServiceDefinition): boolean {
  const file = (def.service as Partial<DescService>).file;
  return file !== undefined && typeof file === "object" && file.kind === "file";
}

type Response = MessageInitShape<typeof ServerReflectionResponseSchema>;

/** The files and symbols of a server's services, and the answers to reflection requests. */
class ReflectionIndex {
  private readonly services: string[] = [];
  private readonly files = new Map<string, DescFile>();
  private readonly symbols = new Map<string, DescFile>();
  private readonly extensions = new Map<string, DescExtension[]>();
  private readonly encoded = new Map<string, Uint8Array>();

  constructor(defs: readonly AnyServiceDefinition[]) {
    for (const def of defs) {
      if (!hasDescriptor(def)) continue;
      const service = def.service as DescService;
      if (!this.services.includes(service.typeName)) this.services.push(service.typeName);
      this.addFile(service.file);
    }
  }

  private addFile(file: DescFile): void {
    if (this.files.has(file.proto.name)) return;
    this.files.set(file.proto.name, file);
    for (const s of file.services) {
      this.symbols.set(s.typeName, file);
      for (const m of s.methods) this.symbols.set(`${s.typeName}.${m.name}`, file);
    }
    const addMessages = (messages: readonly DescMessage[]) => {
      for (const m of messages) {
        this.symbols.set(m.typeName, file);
        for (const e of m.nestedEnums) this.addEnum(e.typeName, e.values, file);
        for (const x of m.nestedExtensions) this.addExtension(x, file);
        addMessages(m.nestedMessages);
      }
    };
    addMessages(file.messages);
    for (const e of file.enums) this.addEnum(e.typeName, e.values, file);
    for (const x of file.extensions) this.addExtension(x, file);
    for (const dep of file.dependencies) this.addFile(dep);
  }

  private addEnum(typeName: string, values: readonly { name: string }[], file: DescFile): void {
    this.symbols.set(typeName, file);
    // Enum values are scoped like the enum itself ("pkg.VALUE" for a top-level enum of package pkg).
    const scope = typeName.includes(".") ? typeName.slice(0, typeName.lastIndexOf(".")) : "";
    for (const v of values) this.symbols.set(scope === "" ? v.name : `${scope}.${v.name}`, file);
  }

  private addExtension(x: DescExtension, file: DescFile): void {
    this.symbols.set(x.typeName, file);
    const list = this.extensions.get(x.extendee.typeName);
    if (list === undefined) this.extensions.set(x.extendee.typeName, [x]);
    else list.push(x);
  }

  /** `file` and every file it imports, directly or not, as serialized FileDescriptorProtos (the file first). */
  private withDependencies(file: DescFile): Uint8Array[] {
    const out: Uint8Array[] = [];
    const seen = new Set<string>();
    const add = (f: DescFile) => {
      if (seen.has(f.proto.name)) return;
      seen.add(f.proto.name);
      let bytes = this.encoded.get(f.proto.name);
      if (bytes === undefined) {
        bytes = toBinary(FileDescriptorProtoSchema, f.proto);
        this.encoded.set(f.proto.name, bytes);
      }
      out.push(bytes);
      for (const dep of f.dependencies) add(dep);
    };
    add(file);
    return out;
  }

  answer(request: ServerReflectionRequest): Response {
    const base = { validHost: request.host, originalRequest: request };
    const notFound = (what: string): Response => ({
      ...base,
      messageResponse: { case: "errorResponse", value: { errorCode: Code.NotFound, errorMessage: `${what} not found` } },
    });
    const files = (file: DescFile | undefined, what: string): Response =>
      file === undefined
        ? notFound(what)
        : { ...base, messageResponse: { case: "fileDescriptorResponse", value: { fileDescriptorProto: this.withDependencies(file) } } };
    const r = request.messageRequest;
    switch (r.case) {
      case "listServices":
        return {
          ...base,
          messageResponse: { case: "listServicesResponse", value: { service: this.services.map((name) => ({ name })) } },
        };
      case "fileByFilename":
        return files(this.files.get(r.value), `file "${r.value}"`);
      case "fileContainingSymbol":
        return files(this.symbols.get(r.value.replace(/^\./, "")), `symbol "${r.value}"`);
      case "fileContainingExtension": {
        const x = this.extensions.get(r.value.containingType)?.find((e) => e.number === r.value.extensionNumber);
        return files(x?.file, `extension ${r.value.extensionNumber} of "${r.value.containingType}"`);
      }
      case "allExtensionNumbersOfType": {
        const known = this.extensions.get(r.value);
        if (known === undefined && !this.symbols.has(r.value)) return notFound(`type "${r.value}"`);
        return {
          ...base,
          messageResponse: {
            case: "allExtensionNumbersResponse",
            value: { baseTypeName: r.value, extensionNumber: (known ?? []).map((x) => x.number) },
          },
        };
      }
      default:
        return {
          ...base,
          messageResponse: { case: "errorResponse", value: { errorCode: Code.InvalidArgument, errorMessage: "the request asks nothing" } },
        };
    }
  }
}
