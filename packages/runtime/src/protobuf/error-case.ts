import { create, ScalarType, type DescMessage, type Message } from "@bufbuild/protobuf";
import type { Any } from "@bufbuild/protobuf/wkt";
import type { ErrorCase } from "../binding/binding.js";
import type { ErrorFields } from "../encoding/encoding.js";
import { Code, type RpcError } from "../errors.js";

/** Converts between RpcError and the message type of a response envelope's error case. */
export interface ErrorCaseCodec {
  /** The code, message and details of an error-case message. */
  read(value: object): ErrorFields;
  /** The error-case message for an RpcError. */
  write(error: RpcError): Message & Record<string, unknown>;
}

/** Creates the {@link ErrorCaseCodec} of an error case whose message type is `schema`. */
export function createErrorCaseCodec(schema: DescMessage, errorCase: ErrorCase): ErrorCaseCodec {
  const codeField = schema.fields.find((f) => f.localName === errorCase.codeField);
  const codeIs64 =
    codeField?.fieldKind === "scalar" &&
    (codeField.scalar === ScalarType.INT64 || codeField.scalar === ScalarType.UINT64 || codeField.scalar === ScalarType.SINT64);
  const { codeField: codeKey, messageField: messageKey, detailsField: detailsKey } = errorCase;
  return {
    read(value) {
      const v = value as unknown as Record<string, unknown>;
      const raw = Number(v[codeKey]);
      const code: Code = raw >= 1 && raw <= 16 ? (raw as Code) : Code.Unknown;
      const details = detailsKey !== undefined ? (v[detailsKey] as Any[]) : [];
      return { code, message: String(v[messageKey]), details };
    },
    write(error) {
      const init: Record<string, unknown> = {
        [codeKey]: codeIs64 ? BigInt(error.code) : error.code,
        [messageKey]: error.rawMessage,
      };
      if (detailsKey !== undefined) init[detailsKey] = error.details;
      return create(schema, init as never) as Message & Record<string, unknown>;
    },
  };
}
