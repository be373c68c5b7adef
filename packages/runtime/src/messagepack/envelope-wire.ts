/**
 * The MessagePack {@link EnvelopeWire}: an envelope is a serde struct, one
 * MessagePack value per frame, written as rmp_serde writes it (an array of
 * its fields in declaration order) and read from that array or from a map
 * keyed by field names (rmp_serde reads both). docs/decisions.md records the
 * rules of the Rust crate this follows.
 */
import type { CasePath } from "../binding/binding.js";
import { toControlCode, type ControlCode } from "../encoding/control-code.js";
import type { EnvelopeContext, EnvelopeWire, FrameSink, InboundEnvelope, WireTarget } from "../encoding/envelope-wire.js";
import type { MessageId } from "../encoding/message-id.js";
import { DEFAULT_METADATA_LIMITS, metadataCounter, type MetadataLimits, type MetadataOverLimit } from "../metadata.js";
import { MpReader } from "./mp-reader.js";
import { Float64, MpWriter } from "./mp-writer.js";
import { readWith, u64, wireInt, type Schema } from "./schema.js";
import type { CaseSpec, EnvelopeSpec, FieldRole, FieldSpec } from "./service.js";

/** A case registered with a {@link MessagePackEnvelopeWire}: where one method's messages travel. */
export interface MessagePackTarget extends WireTarget {
  /** The body enum's variant, for envelopes whose body is an enum. */
  readonly variant: string | undefined;
  /** The envelope fields the case sets: field index → the value on the wire. */
  readonly set: readonly (readonly [number, unknown])[];
  /** The same fields → their values as a frame's fields read back (what received frames are compared with). */
  readonly match: readonly (readonly [number, unknown])[];
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

// One writer and two readers for every envelope: encoding and decoding are synchronous.
const writer = new MpWriter();
const reader = new MpReader();
const bodyReader = new MpReader();

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
  /** The fields of the user's own that some case sets: read from received frames (the others are skipped). */
  private readonly matched = new Set<number>();

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
    // Each value as a received frame's field reads back: written, then read with its schema.
    const match = set.map(([i, wire]): [number, unknown] => {
      const field = this.fields[i] as Field;
      this.matched.add(i);
      return [
        i,
        readWith(field.schema as Schema<unknown>, bodyReader.reset(writer.encode(wire), 0, undefined, `${this.name}.${field.name}`)),
      ];
    });
    bodyReader.release();
    const same = this.targets.find((t) => t.variant === variant && sameSet(t.set, set));
    if (same !== undefined) {
      if (same.schema === schema) return same;
      throw new TypeError(
        `${owner}: the case ${same.path.path} of envelope ${this.name} already carries ${same.schema.description}; each case carries one message type`,
      );
    }
    const target: MessagePackTarget = { path: this.casePath(variant, set, schema), variant, set, match, schema };
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
        // A Map: written as a map of its entries, whatever the keys ("__proto__" is one like any other).
        out[this.metadataIndex] = context.metadata;
      }
      if (this.deadlineIndex >= 0 && context.deadlineMs !== undefined)
        out[this.deadlineIndex] = wireInt(Math.max(1, Math.ceil(context.deadlineMs)));
    }
    return out;
  }

  encode(id: MessageId, code: ControlCode, target?: WireTarget, body?: unknown, context?: EnvelopeContext): Uint8Array {
    return writer.encode(this.value(id, code, target, body, context));
  }

  write(sink: FrameSink, id: MessageId, code: ControlCode, target?: WireTarget, body?: unknown, context?: EnvelopeContext): void {
    // The writer's own buffer, lent as the frame's head: the sink copies it before returning.
    sink.send(EMPTY, writer.encodeShared(this.value(id, code, target, body, context)));
  }

  /**
   * Reads an envelope field by field: the id, the code, the deadline and the
   * fields a case sets are read; the body is skipped (its bounds are kept,
   * and {@link InboundEnvelope.read} reads it with its method's schema);
   * metadata is counted against `limits` as it is read, and skipped unbuilt
   * past them; anything else is skipped. Nothing nests deeper than
   * MessagePack's nesting limit. Throws a TypeError naming the field.
   */
  decode(bytes: Uint8Array, limits: MetadataLimits = DEFAULT_METADATA_LIMITS): InboundEnvelope {
    const r = reader.reset(bytes, 0, bytes.length, this.name);
    try {
      return this.read(r, bytes, limits);
    } finally {
      r.release();
    }
  }

  private read(r: MpReader, bytes: Uint8Array, limits: MetadataLimits): InboundEnvelope {
    const n = this.fields.length;
    const values = new Array<unknown>(n);
    const seen = new Array<boolean>(n).fill(false);
    const frame: FrameParts = { bodyStart: -1, bodyEnd: -1, variant: undefined, metadata: undefined, over: undefined };
    const size = r.arrayHeader();
    if (size >= 0) {
      if (size !== n) throw r.error(`${this.name} has ${n} fields, got an array of ${size}`);
      r.enter();
      for (let i = 0; i < n; i++) this.readField(r, i, values, frame, limits);
      r.leave();
      seen.fill(true);
    } else {
      const entries = r.mapHeader();
      if (entries < 0) throw r.mismatch(`an array of ${n} fields or a map`);
      r.enter();
      for (let k = 0; k < entries; k++) {
        const key = r.stringKey();
        const i = key === undefined ? undefined : this.byName.get(key);
        if (i === undefined) {
          r.skip();
          continue;
        }
        this.readField(r, i, values, frame, limits);
        seen[i] = true;
      }
      r.leave();
      for (const i of [this.idIndex, this.codeIndex]) {
        if (seen[i] !== true) throw r.error(`${this.name} is missing the field "${this.fields[i]?.name}"`);
      }
    }
    if (r.pos !== r.end) throw r.error(`${r.end - r.pos} bytes follow the envelope`);
    const id = values[this.idIndex] as MessageId;
    const codeNumber = values[this.codeIndex] as number | bigint;
    // Any unsigned integer reads; unknown codes are Cancel (docs/decisions.md, "Wire and ids").
    const code = toControlCode(typeof codeNumber === "bigint" ? -1 : codeNumber);
    let carried: MessagePackTarget | undefined;
    if (frame.bodyStart >= 0) {
      for (const t of this.targets) {
        if (t.variant === frame.variant && t.match.every(([i, w]) => seen[i] === true && sameWire(values[i], w))) {
          carried = t;
          break;
        }
      }
    }
    let deadlineMs: number | undefined;
    if (this.deadlineIndex >= 0) {
      const d = values[this.deadlineIndex];
      deadlineMs = d === undefined || d === 0 ? undefined : typeof d === "bigint" ? Number.MAX_SAFE_INTEGER : (d as number);
    }
    const { bodyStart, bodyEnd } = frame;
    return {
      id,
      code,
      metadata: frame.metadata,
      metadataOverLimit: frame.over,
      deadlineMs,
      carried,
      read: (t) => {
        if (t !== carried || carried === undefined) return undefined;
        const br = bodyReader.reset(bytes, bodyStart, bodyEnd, `${this.name}.${carried.path.path}`);
        try {
          return readWith(carried.schema, br) as never;
        } finally {
          br.release();
        }
      },
    };
  }

  /** Reads (or skips) field `i` at the reader. */
  private readField(r: MpReader, i: number, values: unknown[], frame: FrameParts, limits: MetadataLimits): void {
    const field = this.fields[i] as Field;
    r.push(field.name);
    switch (field.role) {
      case "id":
      case "code":
        values[i] = readWith(u64, r);
        break;
      case "deadline":
        values[i] = r.nil() ? 0 : readWith(u64, r);
        break;
      case "metadata":
        this.readMetadata(r, frame, limits);
        break;
      case "body":
        if (r.nil()) break;
        if (this.bodyEnum) {
          const entries = r.mapHeader();
          if (entries < 0) throw r.mismatch("nil or an enum variant (a map of one entry)");
          if (entries !== 1) throw r.error(`an enum variant is a map of one entry, got ${entries}`);
          r.enter();
          if (!r.isStr()) throw r.mismatch("the name of a variant");
          frame.variant = r.str();
          r.push(frame.variant);
          frame.bodyStart = r.pos;
          r.skip();
          frame.bodyEnd = r.pos;
          r.pop();
          r.leave();
        } else {
          frame.bodyStart = r.pos;
          r.skip();
          frame.bodyEnd = r.pos;
        }
        break;
      default:
        if (this.matched.has(i)) values[i] = readWith(field.schema as Schema<unknown>, r);
        else r.skip();
    }
    r.pop();
  }

  /** Reads the metadata field: nil, or a map of strings counted against the limits (past them, skipped unbuilt). */
  private readMetadata(r: MpReader, frame: FrameParts, limits: MetadataLimits): void {
    if (r.nil()) return;
    const n = r.mapHeader();
    if (n < 0) throw r.mismatch("nil or a map of strings (metadata)");
    r.enter();
    const count = metadataCounter(limits);
    const out = new Map<string, string>();
    let i = 0;
    for (; i < n && frame.over === undefined; i++) {
      const start = r.pos;
      if (!r.isStr()) throw r.mismatch("a string key (metadata)");
      const key = r.str();
      if (!r.isStr()) throw r.error(`metadata "${key}" is not a string`);
      const value = r.str();
      frame.over = count(r.pos - start);
      out.set(key, value);
    }
    // Past a limit: the rest is skipped, and nothing of it is kept.
    for (; i < n; i++) {
      r.skip();
      r.skip();
    }
    r.leave();
    frame.metadata = frame.over !== undefined || out.size === 0 ? undefined : out;
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

/** What one envelope read found besides its fields' values. */
interface FrameParts {
  bodyStart: number;
  bodyEnd: number;
  variant: string | undefined;
  metadata: ReadonlyMap<string, string> | undefined;
  over: MetadataOverLimit | undefined;
}

/**
 * Equality of two values (wire values of two cases, or a received field and
 * a case's value): numbers and bigints of the same value are equal, as are
 * arrays, Maps and objects of equal parts.
 */
function sameWire(a: unknown, b: unknown): boolean {
  if (a instanceof Float64) a = a.value;
  if (b instanceof Float64) b = b.value;
  if (a === b) return true;
  if (typeof a === "bigint" || typeof b === "bigint") {
    const ok = (x: unknown) => typeof x === "bigint" || (typeof x === "number" && Number.isInteger(x));
    return ok(a) && ok(b) && BigInt(a as number | bigint) === BigInt(b as number | bigint);
  }
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false;
  if (a instanceof Map || b instanceof Map) {
    if (!(a instanceof Map && b instanceof Map) || a.size !== b.size) return false;
    const bs = [...b];
    return [...a].every(([k, v], i) => sameWire(k, bs[i]?.[0]) && sameWire(v, bs[i]?.[1]));
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => sameWire((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
