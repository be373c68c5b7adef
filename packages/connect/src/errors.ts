/**
 * Errors both ways: an RpcError a protosocket call failed with becomes the
 * ConnectError a connect-es client expects, and a ConnectError a connect-es
 * handler throws becomes the RpcError the server sends. The codes are the
 * same numbers (gRPC's); details are google.protobuf.Any on both sides;
 * metadata is the trailers.
 */
import { create } from "@bufbuild/protobuf";
import { AnySchema, type Any } from "@bufbuild/protobuf/wkt";
import { Code as ConnectCode, ConnectError } from "@connectrpc/connect";
import { type Code, RpcError } from "@protosocket/runtime";

/** A detail an RpcError takes: what its constructor accepts. */
type RpcErrorDetail = NonNullable<ConstructorParameters<typeof RpcError>[2]>[number];
import { headersToMetadata, metadataToHeaders } from "./headers.js";

/** The type name of an Any's type URL ("type.googleapis.com/google.rpc.ErrorInfo" → "google.rpc.ErrorInfo"). */
function typeNameOf(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf("/") + 1);
}

/** A ConnectError with an RpcError's code, raw message, details and trailers (the RpcError is its cause). */
export function fromRpcError(error: RpcError): ConnectError {
  const connectError = new ConnectError(
    error.rawMessage,
    error.code as number as ConnectCode,
    error.metadata.size > 0 ? metadataToHeaders(error.metadata) : undefined,
    undefined,
    error,
  );
  // Incoming details, as connect-es's own transports store those they read from the wire.
  if (error.details.length > 0) connectError.details = error.details.map((any) => ({ type: typeNameOf(any.typeUrl), value: any.value }));
  return connectError;
}

/**
 * The ConnectError a connect-es client sees for what a call failed with.
 * When `signal` aborted and the failure is that (a `cancelled` or
 * `deadline_exceeded` RpcError), the error is the signal's reason as
 * connect-es's transports make it: a ConnectError reason as it is, the
 * deadline's RpcError as `deadline_exceeded`, anything else `canceled`.
 */
export function toConnectError(error: unknown, signal: AbortSignal | undefined): ConnectError {
  if (error instanceof ConnectError) return error;
  if (error instanceof RpcError) {
    if (signal?.aborted === true && (error.code === 1 || error.code === 4)) {
      const reason: unknown = signal.reason;
      if (reason instanceof ConnectError) return reason;
      if (reason instanceof RpcError) return fromRpcError(reason);
      if (error.code === 1) return ConnectError.from(reason ?? error, ConnectCode.Canceled);
    }
    return fromRpcError(error);
  }
  return ConnectError.from(error);
}

/** An outgoing or incoming ConnectError detail as an RpcError detail. */
function toDetail(detail: ConnectError["details"][number]): RpcErrorDetail {
  if ("desc" in detail) return detail;
  const any: Any = create(AnySchema, { typeUrl: `type.googleapis.com/${detail.type}`, value: detail.value });
  return any;
}

/**
 * What the server sends for an error a connect-es handler threw: a
 * ConnectError as an RpcError with its code, raw message, details and
 * metadata (sent as trailers); anything else as it is, for the server's
 * own rules (`exposeErrorMessages`, `onHandlerError`).
 */
export function toRpcError(error: unknown): unknown {
  if (!(error instanceof ConnectError)) return error;
  const metadata = headersToMetadata(error.metadata);
  return new RpcError(error.code as number as Code, error.rawMessage, error.details.map(toDetail), {
    cause: error,
    ...(metadata.size > 0 ? { metadata } : {}),
  });
}
