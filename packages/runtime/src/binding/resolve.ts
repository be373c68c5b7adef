import { getOption, hasOption, ScalarType, type DescField, type DescMessage, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { envelope as envelopeOption, field as fieldOption, FieldRole, method as methodOption } from "../gen/protosocket/v1/options_pb.js";
import type { CasePath, EnvelopeFields, ErrorCase, FieldStep, MethodBinding, ServiceBinding } from "./binding.js";

/** The fully-qualified name of the default error type. */
export const STATUS_TYPE_NAME = "protosocket.v1.Status";

const ANY_TYPE_NAME = "google.protobuf.Any";
const MAX_PATH_DEPTH = 6;

/**
 * A binding rule was broken. The message names the file, the service, the
 * method where there is one, what is wrong and what to write instead.
 */
export class BindingError extends Error {
  /** The .proto file of the service. */
  readonly file: string;
  /** The service's fully-qualified name. */
  readonly service: string;
  /** The method's proto name, when the error concerns one method. */
  readonly method: string | undefined;

  /**
   * @param file the .proto file of the service.
   * @param service the service's fully-qualified name.
   * @param method the method, when the error concerns one.
   * @param problem what is wrong and what to write instead.
   */
  constructor(file: string, service: string, method: string | undefined, problem: string) {
    super(`${file}: service ${service}${method !== undefined ? `, method ${method}` : ""}: ${problem}`);
    this.name = "BindingError";
    this.file = file;
    this.service = service;
    this.method = method;
  }
}

/** Finds message descriptors by fully-qualified name (a protobuf-es Registry fits). */
export interface MessageLookup {
  /** The message with this fully-qualified name, if known. */
  getMessage(typeName: string): DescMessage | undefined;
}

/** True when the service carries the `(protosocket.v1.envelope)` option. */
export function isBoundService(service: DescService): boolean {
  return hasOption(service, envelopeOption);
}

/** snake_case of a method name, the default case name: "GetUser" → "get_user". */
export function defaultCaseName(methodName: string): string {
  return methodName
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1_$2")
    .toLowerCase();
}

/**
 * Resolves a service's envelope binding from descriptors, enforcing every
 * binding rule (the README's quick start and docs/decisions.md describe
 * them). Used by the code generator at generate time, and by the runtime
 * when generated code loads and for services known only by descriptors.
 *
 * @throws BindingError naming file, service, method and the fix.
 */
export function resolveServiceBinding(service: DescService, lookup: MessageLookup): ServiceBinding {
  const file = service.file.proto.name;
  const err = (problem: string, method?: DescMethod) => new BindingError(file, service.typeName, method?.name, problem);
  if (!isBoundService(service)) {
    throw err(
      `has no envelope binding; add option (protosocket.v1.envelope) = { request: "MyRequestEnvelope" response: "MyResponseEnvelope" };`,
    );
  }
  const opts = getOption(service, envelopeOption);
  if (opts.request === "" || opts.response === "") {
    throw err(`option (protosocket.v1.envelope) must name both envelopes: { request: "MyRequestEnvelope" response: "MyResponseEnvelope" }`);
  }
  const pkg = service.file.proto.package;
  const requestEnvelope = findMessage(lookup, pkg, opts.request);
  if (requestEnvelope === undefined) {
    throw err(
      `request envelope message "${opts.request}" not found; name a message defined or imported by ${file} (fully-qualified, or relative to package "${pkg}")`,
    );
  }
  const responseEnvelope = findMessage(lookup, pkg, opts.response);
  if (responseEnvelope === undefined) {
    throw err(
      `response envelope message "${opts.response}" not found; name a message defined or imported by ${file} (fully-qualified, or relative to package "${pkg}")`,
    );
  }
  const request = withContextFields(
    resolveEnvelopeFields(requestEnvelope, opts.messageIdField, opts.controlCodeField, err),
    requestEnvelope,
    opts,
    "request",
    err,
  );
  const responseFields = withContextFields(
    resolveEnvelopeFields(responseEnvelope, opts.messageIdField, opts.controlCodeField, err),
    responseEnvelope,
    opts,
    "response",
    err,
  );
  const error = resolveErrorCase(responseEnvelope, opts.errorCase, err);

  const methods: MethodBinding[] = [];
  for (const method of service.methods) {
    const mopts = hasOption(method, methodOption) ? getOption(method, methodOption) : undefined;
    const defaultCase = defaultCaseName(method.name);
    const reqPath = mopts !== undefined && mopts.requestCase !== "" ? mopts.requestCase : defaultCase;
    const resPath = mopts !== undefined && mopts.responseCase !== "" ? mopts.responseCase : defaultCase;
    const requestCase = resolveCasePath(requestEnvelope, reqPath, method.input, "request", (p) => err(p, method));
    const responseCase = resolveCasePath(responseEnvelope, resPath, method.output, "response", (p) => err(p, method));
    if (error !== undefined && responseCase.path === error.path) {
      throw err(`response case "${responseCase.path}" is the envelope's error case; give the method a case of its own`, method);
    }
    methods.push({
      name: method.name,
      localName: method.localName,
      kind: method.methodKind,
      inputType: method.input.typeName,
      outputType: method.output.typeName,
      request: requestCase,
      response: responseCase,
    });
  }
  const clash = findRequestClash(methods);
  if (clash !== undefined) {
    const [a, b] = clash;
    throw err(
      `request case "${b.request.path}" clashes with method ${a.name}'s "${a.request.path}": the server could not tell the two apart; give each method its own case with option (protosocket.v1.method) = { request_case: "..." }`,
      service.methods.find((m) => m.name === b.name),
    );
  }
  const response: EnvelopeFields & { error?: ErrorCase } = { ...responseFields };
  if (error !== undefined) {
    response.error = error;
  }
  return { typeName: service.typeName, request, response, methods };
}

/**
 * Finds two methods whose request cases cannot be told apart (the same path,
 * or one a prefix of the other), across one or several services bound to the
 * same request envelope.
 */
export function findRequestClash(methods: readonly MethodBinding[]): [MethodBinding, MethodBinding] | undefined {
  for (let i = 0; i < methods.length; i++) {
    for (let j = i + 1; j < methods.length; j++) {
      const a = methods[i] as MethodBinding;
      const b = methods[j] as MethodBinding;
      const pa = `${a.request.path}.`;
      const pb = `${b.request.path}.`;
      if (pa.startsWith(pb) || pb.startsWith(pa)) {
        return [a, b];
      }
    }
  }
  return undefined;
}

function findMessage(lookup: MessageLookup, pkg: string, name: string): DescMessage | undefined {
  if (name.startsWith(".")) {
    return lookup.getMessage(name.substring(1));
  }
  const scopes = pkg === "" ? [] : pkg.split(".");
  for (let i = scopes.length; i >= 0; i--) {
    const prefix = scopes.slice(0, i).join(".");
    const found = lookup.getMessage(prefix === "" ? name : `${prefix}.${name}`);
    if (found !== undefined) {
      return found;
    }
  }
  return undefined;
}

function step(field: DescField): FieldStep {
  const s: { name: string; localName: string; number: number; oneof?: string } = {
    name: field.name,
    localName: field.localName,
    number: field.number,
  };
  if (field.oneof !== undefined) {
    s.oneof = field.oneof.localName;
  }
  return s;
}

function fieldRole(field: DescField): FieldRole {
  return hasOption(field, fieldOption) ? getOption(field, fieldOption).role : FieldRole.UNSPECIFIED;
}

function resolveEnvelopeFields(
  envelope: DescMessage,
  idName: string,
  codeName: string,
  err: (problem: string) => BindingError,
): EnvelopeFields {
  const id = findRoleField(envelope, idName, FieldRole.MESSAGE_ID, "message_id", "message_id_field", err);
  if (id.fieldKind !== "scalar" || id.scalar !== ScalarType.UINT64) {
    throw err(
      `envelope ${envelope.typeName}: message id field "${id.name}" must be a singular uint64, e.g. "uint64 ${id.name} = ${id.number};"`,
    );
  }
  const code = findRoleField(envelope, codeName, FieldRole.CONTROL_CODE, "control_code", "control_code_field", err);
  if (code.fieldKind !== "scalar" || code.scalar !== ScalarType.UINT32) {
    throw err(
      `envelope ${envelope.typeName}: control code field "${code.name}" must be a singular uint32, e.g. "uint32 ${code.name} = ${code.number};"`,
    );
  }
  if (id.oneof !== undefined || code.oneof !== undefined) {
    throw err(`envelope ${envelope.typeName}: the message id and control code fields must not be members of a oneof`);
  }
  return { typeName: envelope.typeName, id: step(id), code: step(code) };
}

/**
 * Adds the optional context fields an envelope binds: metadata (both
 * envelopes) and the deadline (request envelope). A field named by the
 * option or marked with the role must have the right type; a field that only
 * has the default name is bound when its type fits and ignored otherwise, so
 * an existing envelope's unrelated `metadata` field changes nothing.
 */
function withContextFields(
  fields: EnvelopeFields,
  envelope: DescMessage,
  opts: { metadataField: string; deadlineField: string },
  side: "request" | "response",
  err: (problem: string) => BindingError,
): EnvelopeFields {
  const out: { -readonly [K in keyof EnvelopeFields]: EnvelopeFields[K] } = { ...fields };
  const isStringMap = (f: DescField) =>
    f.fieldKind === "map" && f.mapKey === ScalarType.STRING && f.mapKind === "scalar" && f.scalar === ScalarType.STRING;
  const isUint64 = (f: DescField) => f.fieldKind === "scalar" && f.scalar === ScalarType.UINT64;
  const metadata = findOptionalRoleField(envelope, opts.metadataField, FieldRole.METADATA, "metadata", "metadata_field", isStringMap, err);
  if (metadata !== undefined) {
    if (!isStringMap(metadata)) {
      throw err(
        `envelope ${envelope.typeName}: metadata field "${metadata.name}" must be a map<string, string>, e.g. "map<string, string> ${metadata.name} = ${metadata.number};"`,
      );
    }
    out.metadata = step(metadata);
  }
  const deadline = findOptionalRoleField(
    envelope,
    side === "request" ? opts.deadlineField : "",
    FieldRole.DEADLINE,
    "deadline_ms",
    "deadline_field",
    isUint64,
    err,
  );
  if (deadline !== undefined) {
    if (side === "response") {
      if (fieldRole(deadline) === FieldRole.DEADLINE) {
        throw err(
          `envelope ${envelope.typeName}: field "${deadline.name}" has role FIELD_ROLE_DEADLINE, which only a request envelope may have`,
        );
      }
    } else {
      if (!isUint64(deadline) || deadline.oneof !== undefined) {
        throw err(
          `envelope ${envelope.typeName}: deadline field "${deadline.name}" must be a singular uint64 of milliseconds, e.g. "uint64 ${deadline.name} = ${deadline.number};"`,
        );
      }
      out.deadline = step(deadline);
    }
  }
  for (const [role, f] of [
    ["metadata", out.metadata],
    ["deadline", out.deadline],
  ] as const) {
    if (f !== undefined && (f.number === fields.id.number || f.number === fields.code.number)) {
      throw err(`envelope ${envelope.typeName}: the ${role} field cannot also be the message id or the control code field`);
    }
  }
  return out;
}

/**
 * The field of an envelope that plays `role`: the one named by the
 * envelope option (`optionName`), else the one marked with the role, else
 * the one named `defaultName` when `fits` accepts it. Undefined when none is;
 * a name that does not exist, or two marked fields, is an error.
 */
function findOptionalRoleField(
  envelope: DescMessage,
  explicitName: string,
  role: FieldRole,
  defaultName: string,
  optionName: string,
  fits: (f: DescField) => boolean,
  err: (problem: string) => BindingError,
): DescField | undefined {
  if (explicitName !== "") {
    const f = envelope.fields.find((x) => x.name === explicitName);
    if (f === undefined) {
      throw err(
        `envelope ${envelope.typeName} has no field "${explicitName}" (named by ${optionName} of option (protosocket.v1.envelope))`,
      );
    }
    return f;
  }
  const marked = envelope.fields.filter((x) => fieldRole(x) === role);
  if (marked.length > 1) {
    throw err(`envelope ${envelope.typeName} marks ${marked.length} fields with role ${FieldRole[role]}; mark exactly one`);
  }
  if (marked[0] !== undefined) return marked[0];
  const byName = envelope.fields.find((x) => x.name === defaultName);
  return byName !== undefined && fits(byName) ? byName : undefined;
}

/** As {@link findOptionalRoleField} (any field named `defaultName` fits), for a role every envelope must bind. */
function findRoleField(
  envelope: DescMessage,
  explicitName: string,
  role: FieldRole,
  defaultName: string,
  optionName: string,
  err: (problem: string) => BindingError,
): DescField {
  const field = findOptionalRoleField(envelope, explicitName, role, defaultName, optionName, () => true, err);
  if (field === undefined) {
    throw err(
      `envelope ${envelope.typeName} has no ${defaultName} field; add one, mark the field with [(protosocket.v1.field).role = FIELD_ROLE_${FieldRole[role]}], or name it with ${optionName} in option (protosocket.v1.envelope)`,
    );
  }
  return field;
}

function describe(field: DescField): string {
  switch (field.fieldKind) {
    case "message":
      return field.message.typeName;
    case "enum":
      return field.enum.typeName;
    case "scalar":
      return ScalarType[field.scalar].toLowerCase();
    case "list":
      return "repeated field";
    case "map":
      return "map field";
  }
}

/** All paths from `envelope` to a message field of type `typeName` (for suggestions). */
function findPaths(envelope: DescMessage, typeName: string): string[] {
  const found: string[] = [];
  const walk = (msg: DescMessage, prefix: string, depth: number, seen: Set<string>) => {
    if (depth > MAX_PATH_DEPTH || seen.has(msg.typeName)) return;
    seen.add(msg.typeName);
    for (const f of msg.fields) {
      if (f.fieldKind !== "message") continue;
      const p = prefix === "" ? f.name : `${prefix}.${f.name}`;
      if (f.message.typeName === typeName) found.push(p);
      else walk(f.message, p, depth + 1, seen);
    }
    seen.delete(msg.typeName);
  };
  walk(envelope, "", 0, new Set());
  return found;
}

/**
 * Resolves a dotted case path ("unary.get") through message fields and
 * oneofs of `envelope`, checking that it ends at a message of type `expected`.
 */
export function resolveCasePath(
  envelope: DescMessage,
  path: string,
  expected: DescMessage | undefined,
  side: "request" | "response",
  err: (problem: string) => BindingError,
): CasePath {
  const names = path.split(".");
  const steps: FieldStep[] = [];
  let current = envelope;
  let leaf: DescField | undefined;
  const optionKey = side === "request" ? "request_case" : "response_case";
  const suggest = () => {
    if (expected === undefined) return "";
    const paths = findPaths(envelope, expected.typeName);
    return paths.length > 0
      ? `; ${expected.typeName} is reachable as ${paths.map((p) => `"${p}"`).join(", ")}: write option (protosocket.v1.method) = { ${optionKey}: "${paths[0]}" }`
      : `; add a case "${expected.typeName} ${names[names.length - 1]} = N;" to the ${side} envelope's oneof, or name an existing one with option (protosocket.v1.method) = { ${optionKey}: "..." }`;
  };
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string;
    const f = current.fields.find((x) => x.name === name);
    if (f === undefined) {
      throw err(`${side} envelope ${envelope.typeName} has no case "${path}" (no field "${name}" in ${current.typeName})${suggest()}`);
    }
    if (f.fieldKind !== "message") {
      throw err(`${side} case "${path}": field "${name}" of ${current.typeName} is a ${describe(f)}, not a message${suggest()}`);
    }
    steps.push(step(f));
    leaf = f;
    current = f.message;
  }
  if (leaf === undefined || leaf.fieldKind !== "message") {
    throw err(`${side} case path "${path}" is empty${suggest()}`);
  }
  if (expected !== undefined && leaf.message.typeName !== expected.typeName) {
    throw err(
      `${side} case "${path}" of ${envelope.typeName} has type ${leaf.message.typeName}, but the method's ${side === "request" ? "input" : "output"} is ${expected.typeName}${suggest()}`,
    );
  }
  return { path, steps, typeName: leaf.message.typeName };
}

/**
 * Says that the response envelope has no recognisable error case and what to
 * write: without this, every error reply of a peer would fail at run time as
 * a response without the method's case.
 */
function missingErrorCase(envelope: DescMessage): string {
  const lookalikes = envelope.fields.filter(
    (f) =>
      f.fieldKind === "message" && f.message.fields.some((x) => x.name === "code") && f.message.fields.some((x) => x.name === "message"),
  );
  const hint =
    lookalikes.length > 0 ? ` (${lookalikes.map((f) => `"${f.name}"`).join(" or ")}, with a code and a message, looks like one)` : "";
  return `response envelope ${envelope.typeName} has no case of type ${STATUS_TYPE_NAME} and no field marked [(protosocket.v1.field).role = FIELD_ROLE_ERROR]: name the case that carries errors${hint} with error_case: "<case>" in option (protosocket.v1.envelope), or write error_case: "-" if the protocol has none (a failed handler then answers Cancel)`;
}

function resolveErrorCase(envelope: DescMessage, explicitPath: string, err: (problem: string) => BindingError): ErrorCase | undefined {
  if (explicitPath === "-") {
    return undefined;
  }
  let path: CasePath;
  if (explicitPath !== "") {
    path = resolveCasePath(envelope, explicitPath, undefined, "response", (problem) =>
      err(`error_case "${explicitPath}" of option (protosocket.v1.envelope): ${problem}`),
    );
  } else {
    const marked = envelope.fields.filter((f) => fieldRole(f) === FieldRole.ERROR);
    if (marked.length > 1) {
      throw err(`response envelope ${envelope.typeName} marks ${marked.length} fields with role ERROR; mark exactly one`);
    }
    const candidate = marked[0] ?? envelope.fields.find((f) => f.fieldKind === "message" && f.message.typeName === STATUS_TYPE_NAME);
    if (candidate === undefined) {
      throw err(missingErrorCase(envelope));
    }
    path = resolveCasePath(envelope, candidate.name, undefined, "response", err);
  }
  // Check the shape of the error type.
  let msg: DescMessage = envelope;
  for (const s of path.steps) {
    const f = msg.fields.find((x) => x.number === s.number);
    if (f === undefined || f.fieldKind !== "message") throw err(`error case "${path.path}" is not a message`);
    msg = f.message;
  }
  const code = msg.fields.find((f) => f.name === "code");
  const message = msg.fields.find((f) => f.name === "message");
  const details = msg.fields.find((f) => f.name === "details");
  const isInt =
    code !== undefined &&
    ((code.fieldKind === "scalar" &&
      [ScalarType.INT32, ScalarType.UINT32, ScalarType.SINT32, ScalarType.INT64, ScalarType.UINT64, ScalarType.SINT64].includes(
        code.scalar,
      )) ||
      code.fieldKind === "enum");
  if (code === undefined || !isInt) {
    throw err(
      `error case "${path.path}" has type ${msg.typeName}, which needs a "code" field (an integer, or an enum with the gRPC code numbers); add "int32 code = N;" or use protosocket.v1.Status`,
    );
  }
  if (message === undefined || message.fieldKind !== "scalar" || message.scalar !== ScalarType.STRING) {
    throw err(
      `error case "${path.path}" has type ${msg.typeName}, which needs a "string message" field; add "string message = N;" or use protosocket.v1.Status`,
    );
  }
  const result: { -readonly [K in keyof ErrorCase]: ErrorCase[K] } = {
    ...path,
    isStatus: msg.typeName === STATUS_TYPE_NAME,
    codeField: code.localName,
    messageField: message.localName,
  };
  if (
    details !== undefined &&
    details.fieldKind === "list" &&
    details.listKind === "message" &&
    details.message.typeName === ANY_TYPE_NAME
  ) {
    result.detailsField = details.localName;
  }
  return result;
}
