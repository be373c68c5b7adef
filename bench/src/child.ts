// Child processes of the coordinator, read line by line from stdout.

import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import type { ProcessStats } from "./servers/run.js";
import type { Program } from "./system.js";

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

  /** Starts `node <nodeArgs> <script> <args>`, or a program of its own (`nodeArgs` then unused). */
  constructor(program: URL | Program, args: string[], nodeArgs: string[]) {
    const name =
      program instanceof URL ? program.pathname.split("/").slice(-2).join("/") : (program.command.split("/").pop() ?? program.command);
    this.process =
      program instanceof URL
        ? spawn(process.execPath, [...nodeArgs, program.pathname, ...args], { stdio: ["pipe", "pipe", "pipe"] })
        : spawn(program.command, [...program.args, ...args], { stdio: ["pipe", "pipe", "pipe"] });
    createInterface({ input: this.process.stdout! }).on("line", (line) => this.onLine(line));
    this.process.stderr!.on("data", (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4000);
    });
    this.exit = new Promise((resolve) => {
      // "close", not "exit": every stdout line has been read by then.
      this.process.on("close", (code, signal) => {
        this.exited = new Error(`${name} exited (${signal ?? code})${this.stderr ? `: ${this.stderrSummary()}` : ""}`);
        for (const waiter of this.waiters.splice(0)) waiter.reject(this.exited);
        resolve(code);
      });
    });
    this.process.stdin!.on("error", () => {});
    // A program that cannot start (missing binary) fails the waiters instead of the coordinator.
    this.process.on("error", (error) => {
      this.exited ??= new Error(`${name} could not run: ${error.message}`);
      for (const waiter of this.waiters.splice(0)) waiter.reject(this.exited);
    });
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

function getconf(name: string, fallback: number): number {
  try {
    const value = Number(execFileSync("getconf", [name], { encoding: "utf8" }).trim());
    return Number.isFinite(value) && value > 0 ? value : fallback;
  } catch {
    return fallback;
  }
}
const CLOCK_TICKS = process.platform === "linux" ? getconf("CLK_TCK", 100) : 100;
const PAGE_SIZE = process.platform === "linux" ? getconf("PAGESIZE", 4096) : 4096;

/** CPU and RSS of a process as the kernel counts them (Linux), read without its cooperation. */
export interface ProcSample {
  /** utime + stime, µs (resolution 1 / CLK_TCK, usually 10 ms). */
  cpuUs: number;
  rss: number;
}

export function procSample(pid: number | undefined): ProcSample | undefined {
  if (pid === undefined || process.platform !== "linux") return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after "(comm)": state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    const pages = Number(readFileSync(`/proc/${pid}/statm`, "utf8").split(" ")[1]);
    return { cpuUs: (ticks * 1e6) / CLOCK_TICKS, rss: pages * PAGE_SIZE };
  } catch {
    return undefined;
  }
}

/**
 * {@link procSample} of a process and all its descendants, summed: a server that runs
 * in several processes (protosocket-3proc, protosocket-cluster) is measured whole.
 * For a server of one process it is procSample.
 */
export function procTreeSample(pid: number | undefined): ProcSample | undefined {
  const own = procSample(pid);
  if (own === undefined || pid === undefined) return own;
  const children = new Map<number, number[]>();
  try {
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        const list = children.get(ppid) ?? [];
        list.push(Number(entry));
        children.set(ppid, list);
      } catch {
        // Gone meanwhile.
      }
    }
  } catch {
    return own;
  }
  const total = { ...own };
  const pending = [...(children.get(pid) ?? [])];
  while (pending.length > 0) {
    const child = pending.pop() as number;
    const sample = procSample(child);
    if (sample !== undefined) {
      total.cpuUs += sample.cpuUs;
      total.rss += sample.rss;
    }
    pending.push(...(children.get(child) ?? []));
  }
  return total;
}

/** One sample of the server: the kernel's view at once, and the process's own report. */
export interface ServerSample {
  /** From /proc at the moment the coordinator asked (Linux). */
  proc?: ProcSample;
  /** The server's own process.cpuUsage() and memoryUsage(), answered on its event loop. */
  reported: ProcessStats;
  /** How long the server took to answer STATS: a busy event loop answers late. */
  reportDelayMs: number;
}

export async function serverSample(server: LineChild): Promise<ServerSample> {
  const proc = procTreeSample(server.process.pid);
  const asked = performance.now();
  const reply = server.next("STATS ", 60_000);
  server.send("STATS");
  const reported = JSON.parse(await reply) as ProcessStats;
  const sample: ServerSample = { reported, reportDelayMs: Math.round((performance.now() - asked) * 10) / 10 };
  if (proc !== undefined) sample.proc = proc;
  return sample;
}
