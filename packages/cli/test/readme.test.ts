/**
 * The README's `protosocket` section stays true: its command block runs as
 * written, and its transcript prints what it shows, against the echo example
 * server (on its own port instead of 7000).
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "./support/cli.js";
import { startEchoServer, type ServerProcess } from "./support/servers.js";

const README = readFileSync(join(repoRoot, "README.md"), "utf8");
const MARKER = "packages/cli/test/readme.test.ts runs this block";

/** The fenced blocks after the marker: the commands, then the transcript. */
function blocks(): [string[], string[]] {
  const after = README.slice(README.indexOf(MARKER));
  const fenced = [...after.matchAll(/```[a-z]*\n([\s\S]*?)```/g)].slice(0, 2).map((m) => (m[1] as string).trimEnd().split("\n"));
  return [fenced[0] ?? [], fenced[1] ?? []];
}

function sh(command: string): Promise<{ code: number | null; output: string }> {
  const child = spawn("bash", ["-c", `${command} 2>&1`], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (d: string) => (output += d));
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, output })));
}

let echo: ServerProcess;
let port: (text: string) => string;

beforeAll(async () => {
  echo = await startEchoServer();
  port = (text) => text.replaceAll("127.0.0.1:7000", `127.0.0.1:${echo.port}`);
});

afterAll(async () => {
  await echo?.stop();
});

describe("README: Command line", () => {
  it("has the marked command block and its transcript", () => {
    const [commands, transcript] = blocks();
    expect(commands.length).toBeGreaterThanOrEqual(4);
    expect(commands.every((c) => c.startsWith("npx protosocket "))).toBe(true);
    expect(transcript[0]).toMatch(/^\$ npx protosocket /);
  });

  it("every command of the block runs and exits 0", async () => {
    for (const command of blocks()[0]) {
      const run = await sh(port(command));
      expect(run.code, `${command}\n${run.output}`).toBe(0);
    }
  });

  it("the transcript prints what it shows", async () => {
    let lastCode: number | null = null;
    const lines = blocks()[1];
    for (let i = 0; i < lines.length; i++) {
      const command = (lines[i] as string).slice(2);
      const expected: string[] = [];
      while (i + 1 < lines.length && !(lines[i + 1] as string).startsWith("$ ")) expected.push(lines[++i] as string);
      if (command === "echo $?") {
        expect(String(lastCode)).toBe(expected.join("\n"));
        continue;
      }
      const run = await sh(port(command));
      lastCode = run.code;
      expect(run.output.trimEnd(), command).toBe(port(expected.join("\n")));
    }
  });
});
