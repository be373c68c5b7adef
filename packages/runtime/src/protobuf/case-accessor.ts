import { create, type DescField, type DescMessage, type Message } from "@bufbuild/protobuf";
import type { CasePath, FieldStep } from "../binding/binding.js";

/** Reads and writes the message at the end of a case path of an envelope. */
export interface CaseAccessor {
  /** The message at the end of the path, or undefined when the envelope does not carry this case. */
  get(envelope: Record<string, unknown>): Message | undefined;
  /** Puts `value` at the end of the path, creating wrapper messages on the way. */
  set(envelope: Record<string, unknown>, value: Message): void;
  /** The schema of the message at the end of the path. */
  readonly schema: DescMessage;
}

interface ResolvedStep {
  readonly step: FieldStep;
  readonly field: DescField & { fieldKind: "message" };
}

/** Builds a {@link CaseAccessor} for `path` in messages of `envelope`. */
export function createCaseAccessor(envelope: DescMessage, path: CasePath): CaseAccessor {
  const resolved: ResolvedStep[] = [];
  let current = envelope;
  for (const step of path.steps) {
    const field = current.fields.find((f) => f.number === step.number);
    if (field === undefined || field.fieldKind !== "message" || field.localName !== step.localName) {
      throw new Error(
        `case path "${path.path}" does not fit ${envelope.typeName}: no message field ${step.name} = ${step.number} in ${current.typeName}`,
      );
    }
    resolved.push({ step, field });
    current = field.message;
  }
  const leafSchema = current;
  if (resolved.length === 1) {
    // The common shape: one oneof case or field of the envelope.
    const { step } = resolved[0] as ResolvedStep;
    const oneof = step.oneof;
    const key = step.localName;
    if (oneof !== undefined) {
      return {
        schema: leafSchema,
        get(env) {
          const o = env[oneof] as { case: string | undefined; value?: Message };
          return o.case === key ? o.value : undefined;
        },
        set(env, value) {
          env[oneof] = { case: key, value };
        },
      };
    }
    return {
      schema: leafSchema,
      get: (env) => env[key] as Message | undefined,
      set(env, value) {
        env[key] = value;
      },
    };
  }
  return {
    schema: leafSchema,
    get(env) {
      let cur: Record<string, unknown> | undefined = env;
      for (const { step } of resolved) {
        if (cur === undefined) return undefined;
        if (step.oneof !== undefined) {
          const o = cur[step.oneof] as { case: string | undefined; value?: Record<string, unknown> };
          cur = o.case === step.localName ? o.value : undefined;
        } else {
          cur = cur[step.localName] as Record<string, unknown> | undefined;
        }
      }
      return cur as Message | undefined;
    },
    set(env, value) {
      let cur: Record<string, unknown> = env;
      for (let i = 0; i < resolved.length; i++) {
        const { step, field } = resolved[i] as ResolvedStep;
        const last = i === resolved.length - 1;
        const next: Record<string, unknown> = last
          ? (value as unknown as Record<string, unknown>)
          : (create(field.message) as unknown as Record<string, unknown>);
        if (step.oneof !== undefined) cur[step.oneof] = { case: step.localName, value: next };
        else cur[step.localName] = next;
        cur = next;
      }
    },
  };
}
