// Child processes of the coordinator, read line by line from stdout.

import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import type { ProcessStats } from "./servers/run.js";

interface Waiter {
  prefix: string;
  resolve(rest: string): void;
  reject(error: Error): void;
}

export class LineChild {
  readonly process: ChildProcess;
  private readonly waiters: Waiter[] = [];
  private readonly lines: string[] = [];
  private stderr = "";
  private exited: Error | undefined;
  readonly exit: Promise<number | null>;

  constructor(script: URL, args: string[], nodeArgs: string[]) {
    this.process = spawn(process.execPath, [...nodeArgs, script.pathname, ...args], { stdio: ["pipe", "pipe", "pipe"] });
    createInterface({ input: this.process.stdout! }).on("line", (line) => this.onLine(line));
    this.process.stderr!.on("data", (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4000);
    });
    this.exit = new Promise((resolve) => {
      // "close", not "exit": every stdout line has been read by then.
      this.process.on("close", (code, signal) => {
        this.exited = new Error(`${script.pathname.split("/").slice(-2).join("/")} exited (${signal ?? code})${this.stderr ? `: ${this.stderrSummary()}` : ""}`);
        for (const waiter of this.waiters.splice(0)) waiter.reject(this.exited);
        resolve(code);
      });
    });
    this.process.stdin!.on("error", () => {});
  }

  /** The error line of stderr (e.g. "Error: …" of an uncaught exception) and its last lines. */
  stderrSummary(): string {
    const lines = this.stderr
      .trim()
      .split("\n")
      .filter((l) => l.trim() !== "" && !l.startsWith("Node.js v") && !/^\s*at /.test(l) && l.trim() !== "^");
    const error = lines.find((l) => /^\w*(Error|Exception)\b/.test(l.trim()));
    const tail = lines.slice(-2);
    return [...(error !== undefined && !tail.includes(error) ? [error] : []), ...tail].join(" | ");
  }

  private onLine(line: string): void {
    const index = this.waiters.findIndex((w) => line.startsWith(w.prefix));
    if (index >= 0) {
      const [waiter] = this.waiters.splice(index, 1);
      waiter!.resolve(line.slice(waiter!.prefix.length).trim());
    } else {
      this.lines.push(line);
    }
  }

  /** The rest of the next line starting with one of these prefixes ("" if the line is only the prefix). */
  next(prefix: string, timeoutMs: number): Promise<string> {
    const index = this.lines.findIndex((l) => l.startsWith(prefix));
    if (index >= 0) return Promise.resolve(this.lines.splice(index, 1)[0]!.slice(prefix.length).trim());
    if (this.exited !== undefined) return Promise.reject(this.exited);
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`no "${prefix}" line within ${timeoutMs} ms${this.stderr ? `; stderr: ${this.stderrSummary()}` : ""}`));
      }, timeoutMs);
      const waiter: Waiter = {
        prefix,
        resolve: (rest) => {
          clearTimeout(timer);
          resolve(rest);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.waiters.push(waiter);
    });
  }

  send(line: string): void {
    if (this.process.stdin!.writable) this.process.stdin!.write(`${line}\n`);
  }

  /** Asks to exit (EXIT on stdin, then end of stdin), kills after graceMs. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.exited !== undefined) return;
    this.send("EXIT");
    this.process.stdin!.end();
    const timer = setTimeout(() => this.process.kill("SIGKILL"), graceMs);
    await this.exit;
    clearTimeout(timer);
  }
}

export async function serverStats(server: LineChild): Promise<ProcessStats> {
  const reply = server.next("STATS ", 10_000);
  server.send("STATS");
  return JSON.parse(await reply) as ProcessStats;
}
