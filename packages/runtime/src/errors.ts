import {
  create,
  isMessage,
  type DescMessage,
  type Message,
  type MessageInitShape,
  type MessageShape,
  type Registry,
} from "@bufbuild/protobuf";
import { anyPack, anyUnpack, AnySchema, type Any } from "@bufbuild/protobuf/wkt";

/**
 * Status codes, numbered as gRPC numbers them (google.rpc.Code), so an error
 * case on the wire carries the same numbers a gRPC service would.
 */
export enum Code {
  /** The call was cancelled, by the caller or by the peer. */
  Cancelled = 1,
  /** An error that no other code describes. */
  Unknown = 2,
  /** The request was not valid. */
  InvalidArgument = 3,
  /** The deadline (`timeoutMs`) passed before the call completed. */
  DeadlineExceeded = 4,
  /** A requested entity was not found. */
  NotFound = 5,
  /** An entity the call tried to create already exists. */
  AlreadyExists = 6,
  /** The caller may not do this. */
  PermissionDenied = 7,
  /** A limit was reached (message size, concurrent calls, connections). */
  ResourceExhausted = 8,
  /** The system is not in a state that allows the call. */
  FailedPrecondition = 9,
  /** The call was aborted, typically by a concurrency conflict. */
  Aborted = 10,
  /** A value was out of range. */
  OutOfRange = 11,
  /** The method is not implemented by the server. */
  Unimplemented = 12,
  /** An invariant was broken; a protocol violation by the peer. */
  Internal = 13,
  /** The connection is not available (closed, lost, refused). */
  Unavailable = 14,
  /** Unrecoverable data loss or corruption. */
  DataLoss = 15,
  /** The caller is not authenticated. */
  Unauthenticated = 16,
}

const codeNames: Record<number, string> = {
  [Code.Cancelled]: "cancelled",
  [Code.Unknown]: "unknown",
  [Code.InvalidArgument]: "invalid_argument",
  [Code.DeadlineExceeded]: "deadline_exceeded",
  [Code.NotFound]: "not_found",
  [Code.AlreadyExists]: "already_exists",
  [Code.PermissionDenied]: "permission_denied",
  [Code.ResourceExhausted]: "resource_exhausted",
  [Code.FailedPrecondition]: "failed_precondition",
  [Code.Aborted]: "aborted",
  [Code.OutOfRange]: "out_of_range",
  [Code.Unimplemented]: "unimplemented",
  [Code.Internal]: "internal",
  [Code.Unavailable]: "unavailable",
  [Code.DataLoss]: "data_loss",
  [Code.Unauthenticated]: "unauthenticated",
};

/** The snake_case name of a code ("not_found"), or "code_N" for a number outside the set. */
export function codeToString(code: number): string {
  return codeNames[code] ?? `code_${code}`;
}

/** Where an error happened: the method and the peer, when known. */
export interface RpcErrorContext {
  /** The method, as "package.Service/Method". */
  method?: string;
  /** The peer address, as "host:port". */
  peer?: string;
  /** The error that caused this one. */
  cause?: unknown;
  /** Metadata that travels with the error: the trailers of the call's final frame. */
  metadata?: ReadonlyMap<string, string>;
}

/** The metadata of errors that carry none (one read-only Map for all). */
const NO_METADATA: ReadonlyMap<string, string> = new Map();

/**
 * A typed detail of an error: a `google.protobuf.Any`, or a message with its
 * schema, which is packed into one (as connect-es's `ConnectError` takes
 * them). Common types: google.rpc `ErrorInfo`, `RetryInfo`, `BadRequest`
 * (shipped as `@protosocket/runtime/gen/google/rpc/error_details_pb.js`).
 */
export type RpcErrorDetail = Any | { readonly desc: DescMessage; readonly value: MessageInitShape<DescMessage> };

function toAny(detail: RpcErrorDetail): Any {
  if (isMessage(detail, AnySchema)) return detail;
  const d = detail as { desc: DescMessage; value: MessageInitShape<DescMessage> };
  return anyPack(d.desc, create(d.desc, d.value));
}

/**
 * The one error class of protosocket: every failed call, on the client and on
 * the server, is an RpcError with a code from the gRPC code set.
 *
 * `message` reads "[code] text (method …, peer …)"; `rawMessage` is the text
 * alone, as it travels in an error case on the wire.
 */
export class RpcError extends Error {
  /** The status code. */
  readonly code: Code;
  /** The message without the code prefix and context suffix. */
  readonly rawMessage: string;
  /** Typed details carried by the error case (google.protobuf.Any). */
  readonly details: Any[];
  /** The method, as "package.Service/Method", when known. */
  readonly method: string | undefined;
  /** The peer address, when known. */
  readonly peer: string | undefined;
  /**
   * Metadata that travels with the error: on the client, the trailers the
   * server sent with it; on the server, trailers to send with it (besides
   * the handler context's). Empty when none.
   */
  readonly metadata: ReadonlyMap<string, string>;

  /**
   * @param code the status code.
   * @param message the text of the error.
   * @param details typed details, sent in the error case where the envelope
   *   has a details field: Any messages, or `{ desc, value }` pairs packed
   *   into Any here.
   * @param context the method and peer the error concerns, its cause, and
   *   metadata that travels with it.
   */
  constructor(code: Code, message: string, details: readonly RpcErrorDetail[] = [], context: RpcErrorContext = {}) {
    super(formatMessage(code, message, context), context.cause === undefined ? undefined : { cause: context.cause });
    this.name = "RpcError";
    this.code = code;
    this.rawMessage = message;
    this.details = details.length === 0 ? [] : details.map(toAny);
    this.method = context.method;
    this.peer = context.peer;
    this.metadata = context.metadata ?? NO_METADATA;
  }

  /**
   * Turns any thrown value into an RpcError. An RpcError is returned as it
   * is; anything else becomes `fallbackCode` (default `unknown`) with the
   * thrown value's message and the value as cause.
   */
  static from(reason: unknown, fallbackCode: Code = Code.Unknown): RpcError {
    if (reason instanceof RpcError) {
      return reason;
    }
    if (reason instanceof Error) {
      if (reason.name === "AbortError" || reason.name === "TimeoutError") {
        return new RpcError(reason.name === "TimeoutError" ? Code.DeadlineExceeded : Code.Cancelled, reason.message, [], { cause: reason });
      }
      return new RpcError(fallbackCode, reason.message, [], { cause: reason });
    }
    return new RpcError(fallbackCode, String(reason), [], { cause: reason });
  }

  /**
   * The details of one type, decoded: `findDetails(ErrorInfoSchema)`. With a
   * registry, every detail whose type it knows. Details of other types (or
   * that do not decode) are skipped.
   */
  findDetails<Desc extends DescMessage>(desc: Desc): MessageShape<Desc>[];
  findDetails(registry: Registry): Message[];
  findDetails(descOrRegistry: DescMessage | Registry): Message[] {
    const out: Message[] = [];
    for (const any of this.details) {
      try {
        const m =
          "kind" in descOrRegistry && descOrRegistry.kind === "message"
            ? anyUnpack(any, descOrRegistry)
            : anyUnpack(any, descOrRegistry as Registry);
        if (m !== undefined) out.push(m);
      } catch {
        // A detail whose bytes do not decode as its type is skipped.
      }
    }
    return out;
  }

  /** A copy of this error that names the method and peer (kept when already set). */
  withContext(context: { method?: string | undefined; peer?: string | undefined }): RpcError {
    const method = this.method ?? context.method;
    const peer = this.peer ?? context.peer;
    if (method === this.method && peer === this.peer) {
      return this;
    }
    const ctx: RpcErrorContext = {};
    if (method !== undefined) ctx.method = method;
    if (peer !== undefined) ctx.peer = peer;
    if (this.cause !== undefined) ctx.cause = this.cause;
    if (this.metadata.size > 0) ctx.metadata = this.metadata;
    return new RpcError(this.code, this.rawMessage, this.details, ctx);
  }
}

function formatMessage(code: Code, message: string, context: RpcErrorContext): string {
  const where: string[] = [];
  if (context.method !== undefined) where.push(`method ${context.method}`);
  if (context.peer !== undefined) where.push(`peer ${context.peer}`);
  const text = message.length > 0 ? message : codeToString(code);
  return `[${codeToString(code)}] ${text}${where.length > 0 ? ` (${where.join(", ")})` : ""}`;
}
