/**
 * The MessagePack {@link EnvelopeWire}: an envelope is a serde struct, one
 * MessagePack value per frame, written as rmp_serde writes it (an array of
 * its fields in declaration order) and read from that array or from a map
 * keyed by field names (rmp_serde reads both). docs/decisions.md records the
 * rules of the Rust crate this follows.
 */
import { Decoder, Encoder } from "@msgpack/msgpack";
import type { CasePath } from "../binding/binding.js";
import { toControlCode, type ControlCode } from "../encoding/control-code.js";
import type { EnvelopeContext, EnvelopeWire, FrameSink, InboundEnvelope, WireTarget } from "../encoding/envelope-wire.js";
import type { MessageId } from "../encoding/message-id.js";
import { u64, wireInt, type Schema } from "./schema.js";
import type { CaseSpec, EnvelopeSpec, FieldRole, FieldSpec } from "./service.js";

/** A case registered with a {@link MessagePackEnvelopeWire}: where one method's messages travel. */
export interface MessagePackTarget extends WireTarget {
  /** The body enum's variant, for envelopes whose body is an enum. */
  readonly variant: string | undefined;
  /** The envelope fields the case sets: field index → the value on the wire. */
  readonly set: readonly (readonly [number, unknown])[];
  /** The schema of the message it carries. */
  readonly schema: Schema<unknown>;
}

interface Field {
  readonly name: string;
  readonly role: FieldRole | undefined;
  /** The schema of a field of the user's own. */
  readonly schema: Schema<unknown> | undefined;
}

const ROLES = new Set<string>(["id", "code", "body", "metadata", "deadline"]);
const EMPTY = new Uint8Array(0);

// One encoder for every envelope: encoding is synchronous.
const encoder = new Encoder({ useBigInt64: true, initialBufferSize: 4096 });
/**
 * Decoders by size class: the one for bodies of up to 2^k bytes accepts
 * arrays and maps of at most 2^k entries (each entry takes a byte at least).
 * The library allocates an array of the declared length before reading its
 * elements: without the limit, a 10-byte body declaring 16 million elements
 * would allocate 134 MB.
 */
const decoders: Decoder[] = [];
function decoderFor(bytes: number): Decoder {
  const k = 32 - Math.clz32(bytes);
  let d = decoders[k];
  if (d === undefined) {
    d = new Decoder({ useBigInt64: true, maxArrayLength: 2 ** k, maxMapLength: 2 ** k });
    decoders[k] = d;
  }
  return d;
}

/** The MessagePack envelope codec of one envelope struct. */
export class MessagePackEnvelopeWire implements EnvelopeWire {
  /** The envelope's name. */
  readonly name: string;
  private readonly fields: readonly Field[];
  private readonly byName = new Map<string, number>();
  private readonly idIndex: number;
  private readonly codeIndex: number;
  private readonly bodyIndex: number;
  private readonly metadataIndex: number;
  private readonly deadlineIndex: number;
  private readonly bodyEnum: boolean;
  /** The envelope as a frame without case carries it: defaults, nil body, no metadata, no deadline. */
  private readonly template: unknown[];
  private readonly targets: MessagePackTarget[] = [];

  /**
   * @param spec the envelope struct.
   * @throws TypeError naming what is wrong with it.
   */
  constructor(spec: EnvelopeSpec) {
    this.name = spec.name;
    this.bodyEnum = spec.bodyEnum !== false;
    const fields: Field[] = [];
    const template: unknown[] = [];
    const at: Partial<Record<FieldRole, number>> = {};
    for (const [name, f] of Object.entries(spec.fields)) {
      const index = fields.length;
      this.byName.set(name, index);
      if (typeof f === "string") {
        if (!ROLES.has(f))
          throw new TypeError(`envelope ${spec.name}: field "${name}" has the role "${f}"; roles are id, code, body, metadata, deadline`);
        const role = f as FieldRole;
        if (at[role] !== undefined) throw new TypeError(`envelope ${spec.name}: two fields have the role "${role}"`);
        at[role] = index;
        fields.push({ name, role, schema: undefined });
        template.push(role === "id" || role === "code" || role === "deadline" ? 0 : null);
        continue;
      }
      const fieldSpec: FieldSpec = isSchema(f) ? { schema: f } : f;
      const value = fieldSpec.default !== undefined ? fieldSpec.default : fieldSpec.schema.zero;
      if (value === undefined && !fieldSpec.schema.description.startsWith("Option<")) {
        throw new TypeError(
          `envelope ${spec.name}: field "${name}" (${fieldSpec.schema.description}) needs a default: frames that do not set it (Cancel, End) must still carry a value`,
        );
      }
      fields.push({ name, role: undefined, schema: fieldSpec.schema });
      template.push(fieldSpec.schema.toWire(value, `${spec.name}.${name}`));
    }
    for (const role of ["id", "code", "body"] as const) {
      if (at[role] === undefined) throw new TypeError(`envelope ${spec.name}: no field has the role "${role}"`);
    }
    this.fields = fields;
    this.template = template;
    this.idIndex = at.id as number;
    this.codeIndex = at.code as number;
    this.bodyIndex = at.body as number;
    this.metadataIndex = at.metadata ?? -1;
    this.deadlineIndex = at.deadline ?? -1;
  }

  /**
   * Registers the case of a method (or the error case) and returns its
   * target; the same case with the same schema returns the same target.
   *
   * @throws TypeError when the case does not fit the envelope, or is
   *   another schema's already.
   */
  register(caseSpec: CaseSpec, schema: Schema<unknown>, owner: string): MessagePackTarget {
    const variant = caseSpec.variant;
    if (this.bodyEnum && (variant === undefined || variant.length === 0)) {
      throw new TypeError(`${owner}: the body of envelope ${this.name} is an enum; its case needs a variant`);
    }
    if (!this.bodyEnum && variant !== undefined) {
      throw new TypeError(
        `${owner}: the body of envelope ${this.name} is not an enum (bodyEnum: false); its case cannot name a variant, only fields to set`,
      );
    }
    const set: [number, unknown][] = [];
    for (const [name, value] of Object.entries(caseSpec.set ?? {})) {
      const index = this.byName.get(name);
      const field = index === undefined ? undefined : this.fields[index];
      if (index === undefined || field?.schema === undefined) {
        throw new TypeError(`${owner}: envelope ${this.name} has no field "${name}" of its own to set (roles cannot be set)`);
      }
      set.push([index, field.schema.toWire(value, `${owner}: ${this.name}.${name}`)]);
    }
    set.sort((a, b) => a[0] - b[0]);
    const same = this.targets.find((t) => t.variant === variant && sameSet(t.set, set));
    if (same !== undefined) {
      if (same.schema === schema) return same;
      throw new TypeError(
        `${owner}: the case ${same.path.path} of envelope ${this.name} already carries ${same.schema.description}; each case carries one message type`,
      );
    }
    const target: MessagePackTarget = { path: this.casePath(variant, set, schema), variant, set, schema };
    this.targets.push(target);
    return target;
  }

  private casePath(variant: string | undefined, set: readonly (readonly [number, unknown])[], schema: Schema<unknown>): CasePath {
    const body = this.fields[this.bodyIndex]?.name ?? "body";
    const parts = set.map(([i, v]) => `${this.fields[i]?.name} = ${typeof v === "string" ? v : JSON.stringify(v)}`);
    const path = `${body}${variant !== undefined ? `.${variant}` : ""}${parts.length > 0 ? ` (${parts.join(", ")})` : ""}`;
    return { path, steps: [], typeName: schema.description };
  }

  /** The plain value of an envelope, as the encoder writes it. */
  private value(
    id: MessageId,
    code: ControlCode,
    t: WireTarget | undefined,
    body: unknown,
    context: EnvelopeContext | undefined,
  ): unknown[] {
    const out = this.template.slice();
    out[this.idIndex] = wireInt(id);
    out[this.codeIndex] = code;
    if (t !== undefined) {
      const target = t as MessagePackTarget;
      for (const [i, v] of target.set) out[i] = v;
      if (body !== undefined) {
        const message = target.schema.toWire(body, target.schema.description);
        out[this.bodyIndex] = target.variant !== undefined ? { [target.variant]: message } : message;
      }
    }
    if (context !== undefined) {
      if (this.metadataIndex >= 0 && context.metadata !== undefined && context.metadata.size > 0) {
        out[this.metadataIndex] = Object.fromEntries(context.metadata);
      }
      if (this.deadlineIndex >= 0 && context.deadlineMs !== undefined)
        out[this.deadlineIndex] = wireInt(Math.max(1, Math.ceil(context.deadlineMs)));
    }
    return out;
  }

  encode(id: MessageId, code: ControlCode, target?: WireTarget, body?: unknown, context?: EnvelopeContext): Uint8Array {
    return encoder.encode(this.value(id, code, target, body, context));
  }

  write(sink: FrameSink, id: MessageId, code: ControlCode, target?: WireTarget, body?: unknown, context?: EnvelopeContext): void {
    // The encoder's own buffer, lent as the frame's head: the sink copies it before returning.
    sink.send(EMPTY, encoder.encodeSharedRef(this.value(id, code, target, body, context)));
  }

  decode(bytes: Uint8Array): InboundEnvelope {
    let value: unknown;
    try {
      value = decoderFor(bytes.length).decode(bytes);
    } catch (e) {
      throw new TypeError(`not a MessagePack ${this.name}: ${e instanceof Error ? e.message : String(e)}`);
    }
    const fields = this.readFields(value);
    const id = u64.fromWire(fields[this.idIndex], `${this.name}.${this.fields[this.idIndex]?.name}`);
    const rawCode = fields[this.codeIndex];
    // Any unsigned integer reads; unknown codes are Cancel (docs/decisions.md, "Wire and ids").
    const codeNumber = u64.fromWire(rawCode, `${this.name}.${this.fields[this.codeIndex]?.name}`);
    const code = toControlCode(typeof codeNumber === "bigint" ? -1 : codeNumber);
    const body = fields[this.bodyIndex];
    let inner: unknown = body;
    let variant: string | undefined;
    if (this.bodyEnum && body !== null && body !== undefined) {
      if (typeof body !== "object" || Array.isArray(body) || body instanceof Uint8Array) {
        throw new TypeError(`${this.name}.${this.fields[this.bodyIndex]?.name}: expected nil or an enum variant (a map of one entry)`);
      }
      const keys = Object.keys(body);
      if (keys.length !== 1)
        throw new TypeError(`${this.name}.${this.fields[this.bodyIndex]?.name}: an enum variant is a map of one entry, got ${keys.length}`);
      variant = keys[0] as string;
      inner = (body as Record<string, unknown>)[variant];
    }
    let carried: MessagePackTarget | undefined;
    if (body !== null && body !== undefined) {
      for (const t of this.targets) {
        if (t.variant === variant && t.set.every(([i, w]) => sameWire(fields[i], w))) {
          carried = t;
          break;
        }
      }
    }
    let metadata: ReadonlyMap<string, string> | undefined;
    if (this.metadataIndex >= 0) metadata = this.readMetadata(fields[this.metadataIndex]);
    let deadlineMs: number | undefined;
    if (this.deadlineIndex >= 0) {
      const d = u64.fromWire(fields[this.deadlineIndex] ?? 0, `${this.name}.${this.fields[this.deadlineIndex]?.name}`);
      deadlineMs = d === 0 ? undefined : typeof d === "bigint" ? Number.MAX_SAFE_INTEGER : d;
    }
    return {
      id,
      code,
      metadata,
      deadlineMs,
      carried,
      read: (t) => (t === carried && carried !== undefined ? (carried.schema.fromWire(inner, carried.path.path) as never) : undefined),
    };
  }

  /** The envelope's fields by index, from its array or map form. */
  private readFields(value: unknown): unknown[] {
    const n = this.fields.length;
    if (Array.isArray(value)) {
      if (value.length !== n) throw new TypeError(`${this.name} has ${n} fields, got an array of ${value.length}`);
      return value;
    }
    if (value !== null && typeof value === "object" && !(value instanceof Uint8Array)) {
      const record = value as Record<string, unknown>;
      return this.fields.map((f) => {
        if (Object.hasOwn(record, f.name)) return record[f.name];
        if (f.role === "id" || f.role === "code") throw new TypeError(`${this.name} is missing the field "${f.name}"`);
        return null;
      });
    }
    throw new TypeError(`${this.name}: expected an array of ${n} fields or a map`);
  }

  private readMetadata(value: unknown): ReadonlyMap<string, string> | undefined {
    if (value === null || value === undefined) return undefined;
    if (typeof value !== "object" || Array.isArray(value) || value instanceof Uint8Array)
      throw new TypeError(`${this.name}: metadata must be nil or a map of strings`);
    const entries = Object.entries(value);
    if (entries.length === 0) return undefined;
    for (const [k, v] of entries) if (typeof v !== "string") throw new TypeError(`${this.name}: metadata "${k}" is not a string`);
    return new Map(entries as [string, string][]);
  }

  peekId(head: Uint8Array): MessageId | undefined {
    // Only the array form with the id first: its array header, then the id.
    if (this.idIndex !== 0 || head.length === 0) return undefined;
    const first = head[0] as number;
    let pos: number;
    if (first >= 0x90 && first <= 0x9f) pos = 1;
    else if (first === 0xdc) pos = 3;
    else if (first === 0xdd) pos = 5;
    else return undefined;
    return readUint(head, pos);
  }
}

/** A MessagePack unsigned integer at `pos`, when the bytes hold one. */
function readUint(bytes: Uint8Array, pos: number): MessageId | undefined {
  const m = bytes[pos];
  if (m === undefined) return undefined;
  if (m <= 0x7f) return m;
  const size = m === 0xcc ? 1 : m === 0xcd ? 2 : m === 0xce ? 4 : m === 0xcf ? 8 : 0;
  if (size === 0 || pos + 1 + size > bytes.length) return undefined;
  let v = 0n;
  for (let i = 1; i <= size; i++) v = (v << 8n) | BigInt(bytes[pos + i] as number);
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function isSchema(f: Schema<unknown> | FieldSpec): f is Schema<unknown> {
  return typeof (f as Schema<unknown>).toWire === "function";
}

function sameSet(a: readonly (readonly [number, unknown])[], b: readonly (readonly [number, unknown])[]): boolean {
  return a.length === b.length && a.every(([i, v], k) => b[k]?.[0] === i && sameWire(v, b[k]?.[1]));
}

/** Equality of two plain wire values (a decoded field and a case's value): numbers and bigints of the same value are equal. */
function sameWire(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === "bigint" || typeof b === "bigint") {
    const ok = (x: unknown) => typeof x === "bigint" || (typeof x === "number" && Number.isInteger(x));
    return ok(a) && ok(b) && BigInt(a as number | bigint) === BigInt(b as number | bigint);
  }
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => sameWire((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
