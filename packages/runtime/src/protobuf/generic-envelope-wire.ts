import { create, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import type { CasePath, EnvelopeFields } from "../binding/binding.js";
import { createCaseAccessor, type CaseAccessor } from "./case-accessor.js";
import { DEFAULT_METADATA_LIMITS } from "../metadata.js";
import type { ControlCode } from "../encoding/control-code.js";
import { createEnvelopeCodec, type EnvelopeMessage } from "./envelope-codec.js";
import type { EnvelopeContext, WireTarget } from "../encoding/envelope-wire.js";
import type { ProtoEnvelopeWire, ProtoWireTarget } from "./proto-envelope-wire.js";
import { peekVarintField, toMessageId, type MessageId } from "../encoding/message-id.js";
import { scanMetadata, withoutField } from "./metadata-scan.js";

interface GenericTarget extends ProtoWireTarget {
  readonly accessor: CaseAccessor;
}

/**
 * The reflection-based {@link EnvelopeWire}: whole envelopes through
 * toBinary/fromBinary. It handles every envelope shape (case paths through
 * wrapper messages, explicit presence) and is the reference the specialised
 * codec is tested against.
 */
export function createGenericEnvelopeWire(schema: DescMessage, fields: EnvelopeFields, paths: readonly CasePath[]): ProtoEnvelopeWire {
  const codec = createEnvelopeCodec(schema, fields);
  const targets = new Map<string, GenericTarget>();
  const target = (path: CasePath): GenericTarget => {
    let t = targets.get(path.path);
    if (t === undefined) {
      const accessor = createCaseAccessor(schema, path);
      t = { path, schema: accessor.schema, accessor };
      targets.set(path.path, t);
    }
    return t;
  };
  for (const p of paths) target(p);
  const metadataKey = fields.metadata?.localName;
  const deadlineKey = fields.deadline?.localName;
  const encode = (
    id: MessageId,
    code: ControlCode,
    t?: WireTarget,
    body?: MessageInitShape<DescMessage>,
    context?: EnvelopeContext,
  ): Uint8Array => {
    const env = codec.create(typeof id === "bigint" ? id : BigInt(id), code);
    if (t !== undefined && body !== undefined) (t as GenericTarget).accessor.set(env, create((t as GenericTarget).schema, body));
    if (context !== undefined) {
      if (metadataKey !== undefined && context.metadata !== undefined && context.metadata.size > 0) {
        env[metadataKey] = Object.fromEntries(context.metadata);
      }
      if (deadlineKey !== undefined && context.deadlineMs !== undefined)
        env[deadlineKey] = BigInt(Math.max(1, Math.ceil(context.deadlineMs)));
    }
    return codec.encode(env);
  };
  const idField = fields.id.number;
  const metadataField = fields.metadata?.number;
  return {
    schema,
    fast: false,
    target,
    encode,
    write(sink, id, code, t, body, context) {
      sink.send(encode(id, code, t, body as MessageInitShape<DescMessage> | undefined, context));
    },
    decode(bytes, limits = DEFAULT_METADATA_LIMITS) {
      // Metadata past a limit is not decoded at all: the rest of the envelope is, without it.
      const over = metadataField === undefined ? undefined : scanMetadata(bytes, metadataField, limits);
      const env: EnvelopeMessage = codec.decode(over === undefined ? bytes : withoutField(bytes, metadataField as number));
      let carried: GenericTarget | undefined;
      for (const t of targets.values()) {
        if (t.accessor.get(env) !== undefined) {
          carried = t;
          break;
        }
      }
      return {
        id: toMessageId(codec.readId(env)),
        code: codec.readCode(env),
        carried,
        metadata: metadataKey === undefined || over !== undefined ? undefined : readMetadata(env[metadataKey]),
        metadataOverLimit: over,
        deadlineMs: deadlineKey === undefined ? undefined : readDeadline(env[deadlineKey]),
        read: (t) => (t as GenericTarget).accessor.get(env),
      };
    },
    peekId: (head) => peekVarintField(head, idField),
  };
}

/** A map<string, string> field as protobuf-es reads it (a plain object), as a Map; undefined when empty. */
function readMetadata(value: unknown): ReadonlyMap<string, string> | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const entries = Object.entries(value as Record<string, string>);
  return entries.length === 0 ? undefined : new Map(entries);
}

/** A uint64 of milliseconds as a number; undefined when 0 (unset). */
function readDeadline(value: unknown): number | undefined {
  if (typeof value !== "bigint" || value === 0n) return undefined;
  return value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(value);
}
