import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { create, createFileRegistry, createRegistry, fromBinary, fromJsonString } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import { schemaError, usageError } from "../exit-codes.js";
import { file_protosocket_v1_options } from "@protosocket/runtime/gen/protosocket/v1/options_pb.js";
import type { ConnectionFlags, Target } from "../options/target.js";
import { compileProtos } from "./buf-build.js";
import { reflectSchema } from "./reflect-schema.js";
import { Schema } from "./schema.js";

/** The schema flags every command takes. */
export interface SchemaFlags {
  /** `--proto` files. */
  proto?: string[];
  /** `-I` import paths. */
  importPath?: string[];
  /** `--image` files: buf images or FileDescriptorSets, binary or JSON. */
  image?: string[];
}

/** A live server to read the schema from by reflection when no `--proto` or `--image` is given. */
export interface ReflectFrom {
  readonly target: Target;
  readonly flags: ConnectionFlags & { timeout?: number };
}

/**
 * Loads the schema from `--proto` files (compiled with the bundled buf) and
 * `--image` files; both may be given, and files named twice are taken once.
 * With neither, from the server `reflect` names, by reflection.
 *
 * @throws CliError: usage when no schema is named or a file is missing,
 *   schema when it does not compile or load, or the server does not serve
 *   reflection; connection when the server does not answer.
 */
export async function loadSchema(flags: SchemaFlags, cwd: string = process.cwd(), reflect?: ReflectFrom): Promise<Schema> {
  const protos = flags.proto ?? [];
  const images = flags.image ?? [];
  if (protos.length === 0 && images.length === 0) {
    if ((flags.importPath ?? []).length > 0) throw usageError("-I names where imports are found; name the files to load with --proto");
    if (reflect !== undefined) return reflectSchema(reflect.target, reflect.flags);
    throw usageError(
      "no schema: name the service's protos with --proto file.proto (and -I for their imports) or a buf image with --image image.binpb, or give the address of a server that serves reflection (protosocket list host:port)",
    );
  }
  const files: FileDescriptorProto[] = [];
  const seen = new Set<string>();
  const add = (set: { file: FileDescriptorProto[] }) => {
    for (const f of set.file) {
      if (seen.has(f.name)) continue;
      seen.add(f.name);
      files.push(f);
    }
  };
  if (protos.length > 0) {
    const bytes = await compileProtos({ protos, importPaths: flags.importPath ?? [], cwd });
    add(fromBinary(FileDescriptorSetSchema, bytes));
  }
  for (const image of images) add(readImage(image, cwd));
  try {
    return new Schema(createFileRegistry(create(FileDescriptorSetSchema, { file: files })));
  } catch (e) {
    throw schemaError(
      `cannot load the schema: ${(e as Error).message}${images.length > 0 ? " (an image built with --exclude-imports lacks the files it imports; build it without)" : ""}`,
      e,
    );
  }
}

/** The protosocket binding options, to read them from JSON images. */
const optionsRegistry = createRegistry(file_protosocket_v1_options);

function readImage(path: string, cwd: string): { file: FileDescriptorProto[] } {
  let bytes: Buffer;
  try {
    bytes = readFileSync(resolve(cwd, path));
  } catch (e) {
    throw usageError(`--image ${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    if (path.endsWith(".json")) {
      // Options are extensions in JSON ("[protosocket.v1.envelope]"): the registry reads ours.
      // buf's JSON images also carry buf-only fields, and other options may be unknown here: skipped.
      return fromJsonString(FileDescriptorSetSchema, bytes.toString("utf8"), { ignoreUnknownFields: true, registry: optionsRegistry });
    }
    return fromBinary(FileDescriptorSetSchema, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (e) {
    throw schemaError(
      `--image ${path}: not a FileDescriptorSet or buf image (${(e as Error).message}); make one with "buf build -o image.binpb" (binary) or "-o image.json"`,
      e,
    );
  }
}
