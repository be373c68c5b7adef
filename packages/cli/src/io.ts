/** Where a command reads input that was not given inline (stdin). */
export interface InputStream {
  /** True when it is a terminal. */
  readonly isTTY?: boolean | undefined;
  [Symbol.asyncIterator](): AsyncIterator<string | Uint8Array>;
}

/** A place the CLI writes to. */
export interface OutputStream {
  write(text: string): unknown;
  /** True when it is a terminal. */
  readonly isTTY?: boolean | undefined;
  /** Its width, when it is a terminal. */
  readonly columns?: number | undefined;
}

/**
 * Everything the CLI touches outside itself: its streams, working
 * directory and Ctrl-C. Commands take this instead of `process`, so tests
 * can run them in-process.
 */
export interface CliIo {
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  readonly stdin: InputStream;
  readonly cwd: string;
  /**
   * Calls `handler` on the first Ctrl-C (SIGINT) while registered; returns
   * the function that unregisters it. A second Ctrl-C exits at once.
   */
  onInterrupt(handler: () => void): () => void;
}

/**
 * The real process's streams, working directory and Ctrl-C: what the
 * `protosocket` bin gives {@link runCli}. Ctrl-C while a command runs cancels
 * its call; a second Ctrl-C, or one when nothing is listening, exits with 130.
 */
export function processIo(): CliIo {
  const handlers = new Set<() => void>();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts > 1 || handlers.size === 0) process.exit(130);
    for (const h of [...handlers]) h();
  };
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    cwd: process.cwd(),
    onInterrupt(handler) {
      if (handlers.size === 0) process.on("SIGINT", onSigint);
      handlers.add(handler);
      return () => {
        handlers.delete(handler);
        if (handlers.size === 0 && interrupts === 0) process.off("SIGINT", onSigint);
      };
    },
  };
}
