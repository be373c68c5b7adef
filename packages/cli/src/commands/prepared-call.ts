import type { DescMethodServerStreaming, DescMethodUnary, Message } from "@bufbuild/protobuf";
import type { CallOptions, ConnectOptions, ServiceDefinition } from "@protosocket/runtime";
import { usageError } from "../exit-codes.js";
import type { CliIo } from "../io.js";
import { readRequestText } from "../json/read-input.js";
import { parseRequestJson } from "../json/request-json.js";
import { applyMetadata, parseMetadata } from "../options/metadata.js";
import { connectOptionsFrom, parseTarget, type ConnectionFlags } from "../options/target.js";
import { loadSchema, type SchemaFlags } from "../schema/load-schema.js";
import type { Schema } from "../schema/schema.js";

/** Flags of the commands that make calls (`call`, `bench`). */
export interface CallFlags extends SchemaFlags, ConnectionFlags {
  /** `-d`: inline JSON, `@file`, or `@-` for stdin. */
  data?: string;
  /** `--timeout`, ms. */
  timeout?: number;
  /** `--allow-unknown-fields`. */
  allowUnknownFields?: boolean;
  /** `-H` entries. */
  metadata?: string[];
}

/** Everything a call needs, checked before anything connects. */
export interface PreparedCall {
  readonly schema: Schema;
  readonly def: ServiceDefinition;
  readonly method: DescMethodUnary | DescMethodServerStreaming;
  /** "pkg.Service/Method". */
  readonly fullName: string;
  readonly request: Message;
  readonly connect: ConnectOptions;
  /** The call options every call starts from (timeout, metadata). */
  readonly callOptions: CallOptions;
  /** "host:port" as given. */
  readonly target: string;
}

/**
 * Parses and checks a call: target, schema, method, binding, request JSON
 * and connection flags, in that order, so a mistake is reported before
 * anything touches the network.
 *
 * @throws CliError (usage or schema).
 */
export async function prepareCall(targetArg: string, methodRef: string, flags: CallFlags, io: CliIo): Promise<PreparedCall> {
  const target = parseTarget(targetArg);
  const metadata = parseMetadata(flags.metadata ?? []);
  // Without --proto or --image, the schema comes from the server, by reflection.
  const schema = await loadSchema(flags, io.cwd, { target, flags });
  const { service, method } = schema.method(methodRef);
  const def = schema.definition(service);
  if (method.methodKind !== "unary" && method.methodKind !== "server_streaming") {
    throw usageError(
      `${service.desc.typeName}/${method.name} is ${method.methodKind}; protosocket calls unary and server-streaming methods`,
    );
  }
  const text = await readRequestText(flags.data, io.stdin, io.cwd);
  const request = parseRequestJson(method.input, text.text, text.source, {
    registry: schema.registry,
    ignoreUnknownFields: flags.allowUnknownFields === true,
  });
  const callOptions: CallOptions = {};
  if (flags.timeout !== undefined) callOptions.timeoutMs = flags.timeout;
  applyMetadata(metadata, callOptions, def);
  return {
    schema,
    def,
    method: method as DescMethodUnary | DescMethodServerStreaming,
    fullName: `${service.desc.typeName}/${method.name}`,
    request,
    connect: connectOptionsFrom(target, flags),
    callOptions,
    target: targetArg,
  };
}
