import { create, ScalarType, type DescMessage, type Message } from "@bufbuild/protobuf";
import type { Any } from "@bufbuild/protobuf/wkt";
import type { ErrorCase } from "../binding/binding.js";
import { Code, RpcError } from "../errors.js";
import { createCaseAccessor, type CaseAccessor } from "./case-accessor.js";
import type { EnvelopeMessage } from "./envelope-codec.js";

/** Reads and writes the error case of a response envelope. */
export interface ErrorCaseCodec {
  /** The error carried by an envelope, or undefined when it carries none. */
  read(envelope: EnvelopeMessage): { code: Code; message: string; details: Any[] } | undefined;
  /** Puts an error into an envelope. */
  write(envelope: EnvelopeMessage, error: RpcError): void;
}

/** Creates the {@link ErrorCaseCodec} of a response envelope's error case. */
export function createErrorCaseCodec(envelope: DescMessage, errorCase: ErrorCase): ErrorCaseCodec {
  const accessor: CaseAccessor = createCaseAccessor(envelope, errorCase);
  const codeField = accessor.schema.fields.find((f) => f.localName === errorCase.codeField);
  const codeIs64 =
    codeField?.fieldKind === "scalar" &&
    (codeField.scalar === ScalarType.INT64 || codeField.scalar === ScalarType.UINT64 || codeField.scalar === ScalarType.SINT64);
  const { codeField: codeKey, messageField: messageKey, detailsField: detailsKey } = errorCase;
  return {
    read(env) {
      const value = accessor.get(env) as (Message & Record<string, unknown>) | undefined;
      if (value === undefined) {
        return undefined;
      }
      const raw = Number(value[codeKey]);
      const code: Code = raw >= 1 && raw <= 16 ? (raw as Code) : Code.Unknown;
      const details = detailsKey !== undefined ? (value[detailsKey] as Any[]) : [];
      return { code, message: String(value[messageKey]), details };
    },
    write(env, error) {
      const init: Record<string, unknown> = {
        [codeKey]: codeIs64 ? BigInt(error.code) : error.code,
        [messageKey]: error.rawMessage,
      };
      if (detailsKey !== undefined) {
        init[detailsKey] = error.details;
      }
      accessor.set(env, create(accessor.schema, init as never));
    },
  };
}
