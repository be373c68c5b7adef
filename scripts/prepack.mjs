// npm's prepack step of the five published packages (packages/runtime,
// protoc-gen-protosocket, cli, opentelemetry, connect), run in the package's directory: copies
// the repository's LICENSE into it and, with --proto, proto/protosocket into
// its proto/ (one source of truth for both; the copies are git-ignored).
import { cpSync, rmSync } from "node:fs";

const root = new URL("../", import.meta.url);
cpSync(new URL("LICENSE", root), "LICENSE");
if (process.argv.includes("--proto")) {
  rmSync("proto", { recursive: true, force: true });
  cpSync(new URL("proto/protosocket", root), "proto/protosocket", { recursive: true });
}
