#!/usr/bin/env bash
# The package test: proves that each of the five published packages installs
# and works on its own, as it will from the registry, and would publish
# cleanly.
#
#   1. `npm run pack`; checks what each tarball's package.json says: every
#      dependency on another of our packages is the range "^<its version>"
#      (never "*", which npm looks up on the registry), and the tarball holds
#      package.json, README.md and LICENSE and no sources, tests or maps;
#   2. for each tarball, in an empty project outside the workspace: installs
#      it with only what it declares: the tarballs of the packages of ours it
#      depends on (they are not on the registry yet) and the declared peer
#      dependencies of those that none of them depends on, from the registry
#      at their declared ranges. Fails if npm prints a warning or
#      `npm ls --all` finds a missing or invalid package;
#   3. imports it and runs it: the runtime makes a MessagePack call over the
#      memory transport (no generated code needed), the OpenTelemetry
#      interceptors trace a unary call and a stream over TCP (the echo
#      example's generated code, from gen/dist), the plugin's bin answers
#      --version and an empty CodeGeneratorRequest, the CLI's bin lists and
#      describes a service of a .proto file, the connect-es adapter serves a
#      connect-es implementation and calls it with a connect-es client over
#      TCP (the Eliza example's generated code, from gen/dist);
#   4. `npm publish --dry-run` of each tarball prints no warning but npm's
#      "requires you to be logged in" (CI publishes nothing).
#
# Usage: bash scripts/package-test.sh   (needs the npm registry; about 20 s).
set -euo pipefail
cd "$(dirname "$0")/.."
NAME=package-test
# shellcheck source=scripts/lib/outside.sh
source scripts/lib/outside.sh
start=$SECONDS

PACKAGES=(packages/runtime packages/protoc-gen-protosocket packages/cli packages/opentelemetry packages/connect)

step "npm run pack"
run npm run pack
no_warnings "npm run pack"

# tarball PKGNAME: the tarball npm run pack writes for a package name.
tarball() {
  local base="${1#@}"
  echo "$ROOT/packs/${base//\//-}.tgz"
}

# 1. What each tarball's package.json says, against the workspace's versions.
step "the packed manifests: ranges between our packages, files"
for pkg in "${PACKAGES[@]}"; do
  tgz="$(tarball "$(node -p "require('./$pkg/package.json').name")")"
  [ -f "$tgz" ] || fail "npm run pack did not write $tgz"
  mkdir -p "$TMP/manifest"
  tar xzf "$tgz" -C "$TMP/manifest" package/package.json
  node -e '
    const fs = require("node:fs");
    const [packed, root, ...dirs] = process.argv.slice(1);
    const m = JSON.parse(fs.readFileSync(packed, "utf8"));
    const ours = new Map(dirs.map((d) => { const p = require(`${root}/${d}/package.json`); return [p.name, p.version]; }));
    const problems = [];
    for (const field of ["dependencies", "peerDependencies", "optionalDependencies"]) {
      for (const [dep, range] of Object.entries(m[field] ?? {})) {
        if (!ours.has(dep)) continue;
        const want = `^${ours.get(dep)}`;
        if (range !== want) problems.push(`${field}["${dep}"] is "${range}", not "${want}" (the workspace version): node scripts/set-version.mjs <version> writes it`);
      }
    }
    if (m.publishConfig?.access !== "public") problems.push(`publishConfig.access is not "public" (a scoped package publishes restricted by default)`);
    if (problems.length > 0) {
      console.error(`${m.name}: ${problems.join("; ")}`);
      process.exit(1);
    }
  ' "$TMP/manifest/package/package.json" "$ROOT" "${PACKAGES[@]}" || fail "$(basename "$tgz")'s package.json: see above"
  tar tzf "$tgz" >"$TMP/entries"
  for entry in package.json README.md LICENSE; do
    grep -qxF "package/$entry" "$TMP/entries" || fail "$(basename "$tgz") lacks $entry: check \"files\" and the prepack script in $pkg/package.json"
  done
  if grep -E '^package/(src|test)/|\.tsbuildinfo$|\.map$' "$TMP/entries" >"$TMP/extra"; then
    fail "$(basename "$tgz") ships files it should not: $(head -3 "$TMP/extra" | tr '\n' ' ')"
  fi
done

# install_alone PKGNAME: a new project $TMP/<pkg> with the package's tarball,
# the tarballs of ours it needs (transitively) and every declared peer
# dependency of those (from the registry, at the declared range).
install_alone() {
  local name="$1" dir
  dir="$TMP/$(basename "$(tarball "$name")" .tgz)"
  mkdir -p "$dir"
  cd "$dir"
  run npm init -y
  run npm pkg set type=module
  # The CLI bundles buf, whose install script npm 11 asks to approve (as the README's quick start does).
  run npm pkg set allowScripts.@bufbuild/buf=true --json
  mapfile -t specs < <(node -e '
    const { execFileSync } = require("node:child_process");
    const [root, first] = process.argv.slice(1);
    const tarball = (n) => `${root}/packs/${n.replace("@", "").replace("/", "-")}.tgz`;
    const manifest = (n) => JSON.parse(execFileSync("tar", ["xzOf", tarball(n), "package/package.json"], { encoding: "utf8" }));
    const tarballs = [];
    const peers = new Map();
    const dependencies = new Set();
    const todo = [first];
    while (todo.length > 0) {
      const n = todo.shift();
      if (tarballs.includes(tarball(n))) continue;
      tarballs.push(tarball(n));
      const m = manifest(n);
      for (const dep of Object.keys(m.dependencies ?? {})) dependencies.add(dep);
      for (const [dep, range] of Object.entries({ ...m.dependencies, ...m.peerDependencies })) {
        if (dep.startsWith("@protosocket/")) todo.push(dep);
        else if (m.peerDependencies?.[dep] !== undefined && !peers.has(dep)) peers.set(dep, range);
      }
    }
    // A peer that one of these packages depends on is installed with it.
    const specs = [...tarballs, ...[...peers].filter(([dep]) => !dependencies.has(dep)).map(([dep, range]) => `${dep}@${range}`)];
    console.log(specs.join("\n"));
  ' "$ROOT" "$name")
  step "$name alone: npm install ${specs[*]//$ROOT\//}"
  run npm install --no-audit --no-fund "${specs[@]}"
  no_warnings "installing $name"
  run npm ls --all
}

# 2 and 3.
install_alone @protosocket/runtime
cat >smoke.mjs <<'EOF'
import { Code, createClient, createMemoryTransport, createServer, RpcError } from "@protosocket/runtime";
import * as mp from "@protosocket/runtime/messagepack";
import { defineService } from "@protosocket/runtime/protocol";
import { StatusSchema } from "@protosocket/runtime/gen/protosocket/v1/status_pb.js";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const Echo = mp.struct("Echo", { message: mp.string });
const Status = mp.struct("Status", { code: mp.u32, message: mp.string });
const EchoService = mp.defineMessagePackService({
  typeName: "smoke.EchoService",
  request: { name: "Request", fields: { request_id: "id", code: "code", body: "body" } },
  response: { name: "Response", fields: { request_id: "id", code: "code", body: "body" } },
  error: { schema: Status },
  methods: { echo: mp.unary(Echo, Echo) },
});
const server = createServer();
server.register(EchoService, {
  echo: (req) => {
    if (req.message === "fail") throw new RpcError(Code.NotFound, "no such thing");
    return req;
  },
});
const client = createClient(EchoService, createMemoryTransport(server));
const { message } = await client.echo({ message: "hi" });
const failed = await client.echo({ message: "fail" }).catch((e) => e);
const proto = fileURLToPath(import.meta.resolve("@protosocket/runtime/proto/protosocket/v1/options.proto"));
await server.close();
if (message !== "hi" || failed?.code !== Code.NotFound || typeof defineService !== "function" || StatusSchema.typeName !== "protosocket.v1.Status" || !existsSync(proto)) {
  console.error("unexpected:", { message, failed, proto });
  process.exit(1);
}
console.log("runtime ok");
EOF
run node smoke.mjs
grep -qx "runtime ok" "$LOG" || fail "@protosocket/runtime: the smoke program printed $(cat "$LOG")"

install_alone @protosocket/opentelemetry
# The echo example's generated code, as the repository builds it (gen/dist), for a real call.
mkdir gen
cp "$ROOT"/gen/dist/echo/v1/echo_pb.js "$ROOT"/gen/dist/echo/v1/echo_protosocket.js gen/
cat >smoke.mjs <<'EOF'
import { connect, createClient, createServer } from "@protosocket/runtime";
import { createClientTelemetry, createServerTelemetry, RPC_SYSTEM } from "@protosocket/opentelemetry";
import { EchoServiceDefinition } from "./gen/echo_protosocket.js";

const server = createServer({ interceptors: [createServerTelemetry()] });
server.registerPartial(EchoServiceDefinition, {
  echo: (req) => ({ message: req.message }),
  async *count(req) {
    for (let n = 1; n <= req.count; n++) yield { n };
  },
});
const { port } = await server.listen({ host: "127.0.0.1", port: 0 });
const transport = await connect({ host: "127.0.0.1", port, interceptors: [createClientTelemetry()] });
const client = createClient(EchoServiceDefinition, transport);
const { message } = await client.echo({ message: "hi" }, { timeoutMs: 10_000 });
const ns = [];
for await (const r of client.count({ count: 3 })) ns.push(r.n);
transport.close();
await server.close();
if (message !== "hi" || ns.join() !== "1,2,3") {
  console.error("unexpected:", { message, ns });
  process.exit(1);
}
console.log(`opentelemetry ok (${RPC_SYSTEM})`);
EOF
run node smoke.mjs
grep -qx "opentelemetry ok (protosocket)" "$LOG" || fail "@protosocket/opentelemetry: the smoke program printed $(cat "$LOG")"

install_alone @protosocket/protoc-gen-protosocket
version="$(node -p "require('$ROOT/packages/protoc-gen-protosocket/package.json').version")"
run npx --no-install protoc-gen-protosocket --version
grep -qx "protoc-gen-protosocket v$version" "$LOG" || fail "protoc-gen-protosocket --version printed $(cat "$LOG")"
# An empty CodeGeneratorRequest: the plugin loads and answers (an empty response).
run sh -c 'npx --no-install protoc-gen-protosocket </dev/null'

install_alone @protosocket/cli
version="$(node -p "require('$ROOT/packages/cli/package.json').version")"
run npx --no-install protosocket --version
grep -qx "$version" "$LOG" || fail "protosocket --version printed $(cat "$LOG")"
mkdir -p proto/echo/v1
cp "$ROOT/proto/echo/v1/echo.proto" proto/echo/v1/
# The option protos come from the installed @protosocket/runtime.
run npx --no-install protosocket list --proto proto/echo/v1/echo.proto
grep -qx "echo.v1.EchoService" "$LOG" || fail "protosocket list printed $(cat "$LOG")"
run npx --no-install protosocket describe echo.v1.EchoService/Echo --proto proto/echo/v1/echo.proto

install_alone @protosocket/connect
# The Eliza example's generated code, as the repository builds it (gen/dist).
mkdir gen
cp "$ROOT"/gen/dist/eliza/v1/eliza_pb.js gen/
cat >smoke.mjs <<'EOF'
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createServer } from "@protosocket/runtime";
import { createProtosocketTransport, registerConnect } from "@protosocket/connect";
import { ElizaService } from "./gen/eliza_pb.js";

const server = createServer();
registerConnect(server, ElizaService, {
  say(req, ctx) {
    if (req.sentence === "fail") throw new ConnectError("no", Code.NotFound);
    ctx.responseTrailer.set("x-mood", "calm");
    return { sentence: `${ctx.requestHeader.get("x-user")} said ${req.sentence}` };
  },
  async *introduce(req) {
    for (let n = 1; n <= 3; n++) yield { sentence: `${n} ${req.name}` };
  },
});
const { port } = await server.listen({ host: "127.0.0.1", port: 0 });
const transport = createProtosocketTransport({ target: `127.0.0.1:${port}` });
const eliza = createClient(ElizaService, transport);
let mood;
const { sentence } = await eliza.say({ sentence: "hi" }, { headers: { "x-user": "ada" }, timeoutMs: 10_000, onTrailer: (t) => (mood = t.get("x-mood")) });
const intro = [];
for await (const r of eliza.introduce({ name: "eliza" })) intro.push(r.sentence);
const failed = await eliza.say({ sentence: "fail" }).catch((e) => e);
transport.close();
await server.close();
if (sentence !== "ada said hi" || mood !== "calm" || intro.join() !== "1 eliza,2 eliza,3 eliza" || !(failed instanceof ConnectError) || failed.code !== Code.NotFound) {
  console.error("unexpected:", { sentence, mood, intro, failed });
  process.exit(1);
}
console.log("connect ok");
EOF
run node smoke.mjs
grep -qx "connect ok" "$LOG" || fail "@protosocket/connect: the smoke program printed $(cat "$LOG")"

# 4.
cd "$TMP"
for pkg in "${PACKAGES[@]}"; do
  tgz="$(tarball "$(node -p "require('$ROOT/$pkg/package.json').name")")"
  step "npm publish --dry-run packs/$(basename "$tgz")"
  run npm publish --dry-run "$tgz"
  grep -v 'This command requires you to be logged in' "$LOG" >"$LOG.kept" || true
  mv "$LOG.kept" "$LOG"
  no_warnings "npm publish --dry-run packs/$(basename "$tgz")"
  grep -q 'public access (dry-run)' "$LOG" || fail "npm publish --dry-run packs/$(basename "$tgz") would not publish with public access: $(grep -i access "$LOG")"
done

echo "package-test: OK on node $(node --version) in $((SECONDS - start)) s — the five tarballs, each installed alone with its declared peers and no warning, imported and run; npm publish --dry-run clean"
