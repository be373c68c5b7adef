import type {
  CaseDescription,
  EnumDescription,
  EnvelopeDescription,
  MessageDescription,
  MethodDescription,
  ServiceDescription,
} from "./descriptions.js";

/** How `list` and `describe` print descriptions for people (`--json` prints the descriptions themselves). */

const KIND_TEXT: Record<MethodDescription["kind"], string> = {
  unary: "unary",
  server_streaming: "server streaming",
  client_streaming: "client streaming",
  bidi_streaming: "bidi streaming",
};

const KIND_WIDTH = Math.max(...Object.values(KIND_TEXT).map((k) => k.length));

function caseText(c: CaseDescription): string {
  return `${c.path} = ${c.numbers.join(".")}`;
}

function envelopeText(e: EnvelopeDescription): string {
  return `${e.type} (id ${e.messageId.field} = ${e.messageId.number}, control code ${e.controlCode.field} = ${e.controlCode.number})`;
}

/** "rpc Echo(echo.v1.EchoRequest) returns (stream echo.v1.EchoResponse)". */
export function signature(m: MethodDescription): string {
  const inStream = m.kind === "client_streaming" || m.kind === "bidi_streaming" ? "stream " : "";
  const outStream = m.kind === "server_streaming" || m.kind === "bidi_streaming" ? "stream " : "";
  return `rpc ${m.name}(${inStream}${m.input}) returns (${outStream}${m.output})`;
}

/** One line per method: name, kind and, when bound, its cases. */
function methodLines(methods: readonly MethodDescription[], indent: string): string[] {
  const width = Math.max(0, ...methods.map((m) => signature(m).length));
  return methods.map((m) => {
    const cases =
      m.requestCase !== undefined && m.responseCase !== undefined
        ? `  request case ${caseText(m.requestCase)}, response case ${caseText(m.responseCase)}`
        : "";
    return `${indent}${signature(m).padEnd(width)}  ${KIND_TEXT[m.kind].padEnd(KIND_WIDTH)}${cases}`.trimEnd();
  });
}

/** A service: file, envelopes, error case and methods. */
export function renderService(s: ServiceDescription): string {
  const lines = [`service ${s.name} (${s.file})`];
  if (!s.bound || s.envelopes === undefined) {
    lines.push(`  not callable: ${s.bindingError ?? "no envelope binding"}`);
  } else if (s.standard === true) {
    lines.push(
      `  standard envelope  ${s.envelopes.request.type} / ${s.envelopes.response.type}: each request names its method ("${s.name}/…"), messages travel as bytes`,
    );
    const error = s.envelopes.response.error;
    if (error !== undefined) lines.push(`  error case         ${caseText(error)} (${error.type})`);
  } else {
    lines.push(`  request envelope   ${envelopeText(s.envelopes.request)}`);
    lines.push(`  response envelope  ${envelopeText(s.envelopes.response)}`);
    const error = s.envelopes.response.error;
    lines.push(
      error === undefined
        ? "  error case         none (failed calls are answered with Cancel)"
        : `  error case         ${caseText(error)} (${error.type}: code in ${error.codeField}, message in ${error.messageField}${error.detailsField !== undefined ? `, details in ${error.detailsField}` : ""})`,
    );
  }
  lines.push(...methodLines(s.methods, "  "));
  return lines.join("\n");
}

/** A method with its binding and the fields of its input and output. */
export function renderMethod(m: MethodDescription, input: MessageDescription, output: MessageDescription): string {
  const lines = [`${m.fullName}`, `  ${signature(m)}`, `  kind           ${KIND_TEXT[m.kind]}`];
  if (m.requestCase !== undefined) lines.push(`  request case   ${caseText(m.requestCase)} (${m.requestCase.type})`);
  if (m.responseCase !== undefined) lines.push(`  response case  ${caseText(m.responseCase)} (${m.responseCase.type})`);
  lines.push("", indent(renderMessage(input)), "", indent(renderMessage(output)));
  return lines.join("\n");
}

function indent(text: string): string {
  return text
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n");
}

/** A message type as proto-like text, with each field's JSON name where it differs. */
export function renderMessage(m: MessageDescription): string {
  const lines = [`message ${m.name} {`];
  let oneof: string | undefined;
  for (const f of m.fields) {
    if (f.oneof !== oneof) {
      if (oneof !== undefined) lines.push("  }");
      if (f.oneof !== undefined) lines.push(`  oneof ${f.oneof} {`);
      oneof = f.oneof;
    }
    const pad = oneof !== undefined ? "    " : "  ";
    const label = f.label === "repeated" || f.label === "optional" ? `${f.label} ` : "";
    const json = f.jsonName !== f.name ? `  // JSON "${f.jsonName}"` : "";
    lines.push(`${pad}${label}${f.type} ${f.name} = ${f.number};${json}`);
  }
  if (oneof !== undefined) lines.push("  }");
  lines.push("}");
  return lines.join("\n");
}

/** An enum type as proto-like text. */
export function renderEnum(e: EnumDescription): string {
  return [`enum ${e.name} {`, ...e.values.map((v) => `  ${v.name} = ${v.number};`), "}"].join("\n");
}

/** `list`: one service per line with its state, or the methods of one service. */
export function renderServiceList(services: readonly ServiceDescription[]): string {
  return services
    .map((s) => (s.bound ? s.name : `${s.name}  (not callable: no valid envelope binding; see protosocket describe ${s.name})`))
    .join("\n");
}

/** `list Service`: one "pkg.Service/Method" per line with its kind. */
export function renderMethodList(s: ServiceDescription): string {
  const width = Math.max(0, ...s.methods.map((m) => m.fullName.length));
  return s.methods.map((m) => `${m.fullName.padEnd(width)}  ${KIND_TEXT[m.kind]}`).join("\n");
}
