import { toJson, type DescMessage, type Message, type Registry } from "@bufbuild/protobuf";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import { Code, codeToString, type RpcError, type ConnectionTransport } from "@protosocket/runtime";
import type { OutputStream } from "./io.js";

/** Options of {@link messageJson}. */
export interface JsonOutputOptions {
  /** Resolves google.protobuf.Any values. */
  readonly registry: Registry;
  /** Print fields at their default values too (`--emit-defaults`). */
  readonly emitDefaults?: boolean;
}

/** A message in the proto3 JSON mapping (`toJson` of @bufbuild/protobuf). */
export function messageJson(schema: DescMessage, message: Message, options: JsonOutputOptions): unknown {
  return toJson(schema, message, { registry: options.registry, alwaysEmitImplicit: options.emitDefaults === true });
}

/**
 * Prints a failed call on stderr: the code's name and number, the server's
 * message, the method and peer, and each detail (as JSON when the schema
 * knows its type).
 */
export function printRpcError(err: OutputStream, error: RpcError, registry: Registry, tls: boolean): void {
  const lines = [
    `protosocket: call failed: ${codeToString(error.code)} (code ${error.code}): ${error.rawMessage || codeToString(error.code)}`,
  ];
  const where: string[] = [];
  if (error.method !== undefined) where.push(`method ${error.method}`);
  if (error.peer !== undefined) where.push(`peer ${error.peer}`);
  if (where.length > 0) lines.push(`  ${where.join(", ")}`);
  for (const any of error.details) {
    let text: string;
    try {
      // The Any's JSON form: {"@type": ..., fields} when the schema knows the type.
      text = JSON.stringify(toJson(AnySchema, any, { registry }));
    } catch {
      text = `${any.typeUrl} (${any.value.byteLength} bytes; the type is not in the schema)`;
    }
    lines.push(`  detail ${text}`);
  }
  if (error.code === Code.Unavailable && !tls && /closed/.test(error.rawMessage)) {
    lines.push("  (if the server speaks TLS on this port, add --tls)");
  }
  err.write(`${lines.join("\n")}\n`);
}

/**
 * Closes a transport once what it has queued is written: a Cancel sent by
 * aborting a call goes out on the link's next flush (scheduled with
 * setImmediate), and close() drops anything not yet written.
 */
export async function closeAfterFlush(transport: ConnectionTransport): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve));
  await new Promise<void>((resolve) => setImmediate(resolve));
  transport.close();
}
