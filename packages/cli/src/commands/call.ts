import type { Message } from "@bufbuild/protobuf";
import { RpcError } from "@protosocket/runtime";
import { streamCaller, unaryCaller } from "@protosocket/runtime/protocol";
import { openConnection } from "../connection.js";
import { ExitCode, rpcExitCode } from "../exit-codes.js";
import type { CliIo } from "../io.js";
import { wantsTls } from "../options/target.js";
import { closeAfterFlush, messageJson, printRpcError } from "../rpc-output.js";
import { prepareCall, type CallFlags } from "./prepared-call.js";

/** Flags of `protosocket call`. */
export interface CallCommandFlags extends CallFlags {
  /** `--emit-defaults`. */
  emitDefaults?: boolean;
}

/**
 * `protosocket call host:port pkg.Service/Method`: one call. A unary response
 * is printed as indented JSON; a stream as one JSON object per line, each as
 * it arrives. Ctrl-C cancels the call (a Cancel frame goes to the server).
 *
 * @returns the exit code: 0, 64 + the RPC code, or 130 when interrupted.
 */
export async function runCall(targetArg: string, methodRef: string, flags: CallCommandFlags, io: CliIo): Promise<number> {
  const call = await prepareCall(targetArg, methodRef, flags, io);
  const jsonOptions = { registry: call.schema.registry, emitDefaults: flags.emitDefaults === true };
  const transport = await openConnection(call.connect);
  const controller = new AbortController();
  let interrupted = false;
  const off = io.onInterrupt(() => {
    interrupted = true;
    controller.abort(new Error("interrupted (Ctrl-C)"));
  });
  // Trailers the server sends with the final frame, on stderr (stdout stays the response JSON).
  const onTrailer = (trailers: ReadonlyMap<string, string>) => {
    for (const [key, value] of trailers) io.stderr.write(`trailer ${key}: ${value}\n`);
  };
  const options = { ...call.callOptions, signal: controller.signal, onTrailer };
  try {
    if (call.method.methodKind === "unary") {
      const response = await unaryCaller(transport, call.def, call.method)(call.request, options);
      io.stdout.write(`${JSON.stringify(messageJson(call.method.output, response as Message, jsonOptions), null, 2)}\n`);
    } else {
      for await (const message of streamCaller(transport, call.def, call.method)(call.request, options)) {
        io.stdout.write(`${JSON.stringify(messageJson(call.method.output, message as Message, jsonOptions))}\n`);
      }
    }
    return ExitCode.Ok;
  } catch (e) {
    if (interrupted) {
      io.stderr.write(`protosocket: interrupted: ${call.fullName} cancelled (Cancel sent to ${transport.peer})\n`);
      return ExitCode.Interrupted;
    }
    if (!(e instanceof RpcError)) throw e;
    printRpcError(io.stderr, e, call.schema.registry, wantsTls(flags));
    return rpcExitCode(e.code);
  } finally {
    off();
    await closeAfterFlush(transport);
  }
}
