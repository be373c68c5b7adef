/**
 * Prints plain JSON-able data (a ServiceBinding) as a JavaScript literal in
 * the house style: bare keys, double-quoted strings, trailing commas; an
 * object or array stays on one line when that line fits in `width` columns.
 */
export function printLiteral(value: unknown, indent: string, width = 100): string {
  return print(value, indent, indent.length, width);
}

/** `column` is where the value starts on its line; a comma follows it. */
function print(value: unknown, indent: string, column: number, width: number): string {
  const flat = printFlat(value);
  if (column + flat.length + 1 <= width || !isComposite(value)) {
    return flat;
  }
  const inner = indent + "  ";
  if (Array.isArray(value)) {
    const items = value.map((v) => `${inner}${print(v, inner, inner.length, width)},\n`);
    return `[\n${items.join("")}${indent}]`;
  }
  const entries = definedEntries(value as Record<string, unknown>).map(([k, v]) => {
    const prefix = `${inner}${printKey(k)}: `;
    return `${prefix}${print(v, inner, prefix.length, width)},\n`;
  });
  return `{\n${entries.join("")}${indent}}`;
}

function isComposite(value: unknown): boolean {
  return typeof value === "object" && value !== null;
}

function definedEntries(obj: Record<string, unknown>): [string, unknown][] {
  return Object.entries(obj).filter(([, v]) => v !== undefined);
}

function printFlat(value: unknown): string {
  if (Array.isArray(value)) {
    return value.length === 0 ? "[]" : `[${value.map(printFlat).join(", ")}]`;
  }
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "number":
    case "boolean":
      return String(value);
    case "object": {
      if (value === null) return "null";
      const entries = definedEntries(value as Record<string, unknown>);
      return entries.length === 0 ? "{}" : `{ ${entries.map(([k, v]) => `${printKey(k)}: ${printFlat(v)}`).join(", ")} }`;
    }
    default:
      throw new Error(`cannot print a ${typeof value} as a literal`);
  }
}

function printKey(key: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? key : JSON.stringify(key);
}
