/**
 * The README's main command: starts the echo server in its own process,
 * runs the client against it, stops the server, exits 0 when everything
 * behaved.
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { runEchoClient } from "./client.js";

async function main(): Promise<void> {
  const serverPath = fileURLToPath(new URL("./server.js", import.meta.url));
  const child = spawn(process.execPath, [serverPath, "--host", "127.0.0.1", "--port", "0"], { stdio: ["ignore", "pipe", "inherit"] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout });
      lines.on("line", (line) => {
        const m = /^LISTENING .*:(\d+)$/.exec(line);
        if (m !== null) resolve(Number(m[1]));
      });
      child.once("exit", (code) => reject(new Error(`the server exited with code ${code} before listening`)));
    });
    console.log(`echo server listening on 127.0.0.1:${port} (pid ${child.pid})`);
    await runEchoClient({ host: "127.0.0.1", port, count: 1000 });
    console.log("all calls behaved as expected");
  } finally {
    child.kill("SIGTERM");
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
