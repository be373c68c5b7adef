import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { usageError } from "../exit-codes.js";
import type { InputStream } from "../io.js";

/** A request's JSON text and how the user gave it (for messages). */
export interface RequestText {
  readonly text: string;
  /** "-d", "-d @file.json" or "stdin". */
  readonly source: string;
}

/**
 * The request text from `-d`: inline JSON, `@file`, or `@-` / `@` for
 * stdin. Without `-d`, stdin is read when it is not a terminal (a pipe or a
 * file); otherwise, or when it is empty, the request is `{}` (every field
 * at its default).
 *
 * @throws CliError (usage) when a file cannot be read.
 */
export async function readRequestText(data: string | undefined, stdin: InputStream, cwd: string): Promise<RequestText> {
  if (data === undefined) {
    if (stdin.isTTY === true) return { text: "{}", source: "the request" };
    const text = await readAll(stdin);
    return { text: text.trim() === "" ? "{}" : text, source: "stdin" };
  }
  if (data === "@" || data === "@-") {
    const text = await readAll(stdin);
    return { text: text.trim() === "" ? "{}" : text, source: "stdin (-d @-)" };
  }
  if (data.startsWith("@")) {
    const file = data.slice(1);
    try {
      return { text: readFileSync(resolve(cwd, file), "utf8"), source: `-d ${data}` };
    } catch (e) {
      throw usageError(`-d ${data}: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }
  return { text: data, source: "-d" };
}

async function readAll(stream: InputStream): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of stream) text += typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
  return text + decoder.decode();
}
