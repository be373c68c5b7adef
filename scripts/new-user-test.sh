#!/usr/bin/env bash
# The "new user" test: proves that README.md's "Quick start" works for someone
# outside this repository, with no warning and no edit, on the Node.js that
# runs it (CI runs it on Node 20 and on Node 24).
#
#   1. `npm run pack` (the README's pack command), and checks what the
#      runtime's and the plugin's tarballs contain (scripts/package-test.sh
#      checks each of the five alone);
#   2. in a temporary directory outside the workspace, where `protosocket-ts`
#      links to this clone, runs the README's install blocks: a new project
#      `greet` next to the clone, the tarballs and the registry's packages,
#      then the CLI, OpenTelemetry and connect-es packages; fails if npm prints any warning;
#   3. follows the quick start literally: greet.proto, buf.yaml, buf.gen.yaml,
#      `npx buf generate`, tsconfig.json, the server and client snippets;
#      compiles them with `npx tsc` (and once more with the strictest options
#      we hold our code to), runs them and checks what they print; and, if
#      protoc is installed, runs the quick start's protoc command and checks
#      it generates the same files as buf; the installed CLI lists greet.proto;
#   4. in that project, type-checks every other TypeScript block of the
#      documentation against the installed packages (scripts/check-docs.mjs);
#   5. removes the temporary directories and prints a one-line summary.
#
# KEEP IN SYNC WITH README.md "Quick start": every quick_start block below is
# the README's text verbatim (the script fails if README.md no longer contains
# it), so edit the README and this script together. The only deviations are
# applied by the script and listed where they happen: `npm ci` is not run
# again before `npm run pack` (CI has just run it in this clone), and the
# server listens on port 0 instead of 7000 so that the server and client share
# one program.
#
# Usage: bash scripts/new-user-test.sh   (from anywhere; needs network access to
# the npm registry). Exits non-zero with a message naming the failed step.
set -euo pipefail
cd "$(dirname "$0")/.."
NAME=new-user-test
# shellcheck source=scripts/lib/outside.sh
source scripts/lib/outside.sh
README="$ROOT/README.md"
start=$SECONDS

# quick_start NAME <<'EOF' ... EOF: stores a block of the README's quick start
# as $TMP/readme/NAME and fails if README.md does not contain it verbatim.
mkdir -p "$TMP/readme"
quick_start() {
  cat >"$TMP/readme/$1"
  node -e '
    const fs = require("node:fs");
    const [readme, block] = process.argv.slice(1).map((f) => fs.readFileSync(f, "utf8"));
    process.exit(readme.includes("\n" + block + "```\n") ? 0 : 1);
  ' "$README" "$TMP/readme/$1" ||
    fail "README.md's quick start no longer contains this script's $1 block verbatim: update scripts/new-user-test.sh and README.md together"
}

# ---------------------------------------------------------------------------
# The quick start, as README.md writes it.

quick_start pack.sh <<'EOF'
npm ci && npm run pack   # writes packs/protosocket-{runtime,protoc-gen-protosocket,cli,opentelemetry,connect}.tgz
EOF

quick_start install.sh <<'EOF'
mkdir greet && cd greet && npm init -y
npm pkg set type=module
npm pkg set allowScripts.@bufbuild/buf=true --json
npm install ../protosocket-ts/packs/protosocket-runtime.tgz @bufbuild/protobuf
npm install -D ../protosocket-ts/packs/protosocket-protoc-gen-protosocket.tgz @bufbuild/protoc-gen-es@2.13.0 @bufbuild/buf typescript @types/node
EOF

quick_start install-more.sh <<'EOF'
npm install -D ../protosocket-ts/packs/protosocket-cli.tgz
npm install ../protosocket-ts/packs/protosocket-opentelemetry.tgz @opentelemetry/api
npm install ../protosocket-ts/packs/protosocket-connect.tgz @connectrpc/connect
EOF

quick_start greet.proto <<'EOF'
syntax = "proto3";
package greet.v1;

import "protosocket/v1/options.proto";
import "protosocket/v1/status.proto";

service GreetService {
  option (protosocket.v1.envelope) = { request: "GreetRequestEnvelope" response: "GreetResponseEnvelope" };
  rpc Hello(HelloRequest) returns (HelloResponse);
  rpc Ticks(TicksRequest) returns (stream Tick);
}

message HelloRequest { string name = 1; }
message HelloResponse { string greeting = 1; }
message TicksRequest { uint32 count = 1; }
message Tick { uint32 n = 1; }

message GreetRequestEnvelope {
  uint64 message_id = 1;
  uint32 control_code = 2;
  oneof body { HelloRequest hello = 3; TicksRequest ticks = 4; }
}
message GreetResponseEnvelope {
  uint64 message_id = 1;
  uint32 control_code = 2;
  oneof body { HelloResponse hello = 3; Tick ticks = 4; protosocket.v1.Status error = 15; }
}
EOF

quick_start buf.yaml <<'EOF'
version: v2
modules:
  - path: proto
  - path: node_modules/@protosocket/runtime/proto
EOF

quick_start buf.gen.yaml <<'EOF'
version: v2
inputs:
  - directory: proto
plugins:
  - local: protoc-gen-es
    out: src/gen
    opt: [target=ts, import_extension=js, rewrite_imports=./protosocket/v1/*_pb.js:@protosocket/runtime/gen]
  - local: protoc-gen-protosocket
    out: src/gen
    opt: [target=ts, import_extension=js, rewrite_imports=./protosocket/v1/*_pb.js:@protosocket/runtime/gen]
EOF

quick_start generate.sh <<'EOF'
npx buf generate
EOF

quick_start protoc.sh <<'EOF'
mkdir -p src/gen
protoc -I proto -I node_modules/@protosocket/runtime/proto \
  --plugin=node_modules/.bin/protoc-gen-es --plugin=node_modules/.bin/protoc-gen-protosocket \
  --es_out=src/gen --es_opt=target=ts,import_extension=js,rewrite_imports='./protosocket/v1/*_pb.js:@protosocket/runtime/gen' \
  --protosocket_out=src/gen --protosocket_opt=target=ts,import_extension=js,rewrite_imports='./protosocket/v1/*_pb.js:@protosocket/runtime/gen' \
  proto/greet/v1/greet.proto
EOF

quick_start tsconfig.json <<'EOF'
{
  "compilerOptions": {
    "target": "es2022",
    "module": "node16",
    "strict": true,
    "types": ["node"],
    "rootDir": "src",
    "outDir": "dist"
  },
  "include": ["src"]
}
EOF

quick_start server.ts <<'EOF'
import { createServer } from "@protosocket/runtime";
import { GreetServiceDefinition } from "./gen/greet/v1/greet_protosocket.js";

const server = createServer();
server.register(GreetServiceDefinition, {
  hello: (req) => ({ greeting: `Hello, ${req.name}` }),
  async *ticks(req, ctx) {
    for (let n = 1; n <= req.count && !ctx.signal.aborted; n++) yield { n };
  },
});
const { port } = await server.listen({ host: "127.0.0.1", port: 7000 });
// later: await server.close({ graceMs: 5000 });
EOF

quick_start client.ts <<'EOF'
import { connect, createClient } from "@protosocket/runtime";
import { GreetServiceDefinition } from "./gen/greet/v1/greet_protosocket.js";

const transport = await connect({ host: "127.0.0.1", port: 7000 });
const client = createClient(GreetServiceDefinition, transport);
const { greeting } = await client.hello({ name: "Ada" }, { timeoutMs: 1000 });
console.log(greeting); // Hello, Ada
for await (const tick of client.ticks({ count: 3 })) console.log(tick.n); // 1 2 3
transport.close();
EOF

step "node $(node --version), npm $(npm --version)"

# ---------------------------------------------------------------------------
# 1. Pack.

step "npm run pack (README: npm ci && npm run pack; CI has run npm ci in this clone)"
grep -q 'npm run pack' "$TMP/readme/pack.sh" || fail "the README's pack command no longer runs npm run pack: update this script"
run npm run pack
no_warnings "npm run pack"
RUNTIME_TGZ="$ROOT/packs/protosocket-runtime.tgz"
PLUGIN_TGZ="$ROOT/packs/protosocket-protoc-gen-protosocket.tgz"
for tgz in "$RUNTIME_TGZ" "$PLUGIN_TGZ"; do
  [ -f "$tgz" ] || fail "npm run pack did not write $tgz (the name the README's install line uses)"
done

# tarball_has TGZ ENTRY...: every ENTRY (a path under package/) is in TGZ.
tarball_has() {
  local tgz="$1" entry
  shift
  tar tzf "$tgz" >"$TMP/entries" || fail "cannot list $tgz"
  for entry in "$@"; do
    grep -qxF "package/$entry" "$TMP/entries" ||
      fail "$(basename "$tgz") lacks $entry: check \"files\" (and the prepack script) in its package.json"
  done
}
runtime_entries=(package.json README.md LICENSE dist/index.js dist/index.d.ts dist/protocol.js dist/protocol.d.ts)
for proto in "$ROOT"/proto/protosocket/v1/*.proto; do
  name="$(basename "$proto" .proto)"
  runtime_entries+=("proto/protosocket/v1/$name.proto" "dist/gen/protosocket/v1/${name}_pb.js" "dist/gen/protosocket/v1/${name}_pb.d.ts")
done
tarball_has "$RUNTIME_TGZ" "${runtime_entries[@]}"
tarball_has "$PLUGIN_TGZ" package.json README.md LICENSE bin/protoc-gen-protosocket dist/index.js dist/index.d.ts
for tgz in "$RUNTIME_TGZ" "$PLUGIN_TGZ"; do
  if tar tzf "$tgz" | grep -E '^package/(src|test)/|\.tsbuildinfo$|\.map$' >"$TMP/extra"; then
    fail "$(basename "$tgz") ships files it should not: $(head -3 "$TMP/extra" | tr '\n' ' ')"
  fi
done

# ---------------------------------------------------------------------------
# 2. A new project next to the clone, outside the workspace.

ln -s "$ROOT" "$TMP/protosocket-ts"
cd "$TMP"
step "the README's install block in $TMP (npm install: the tarballs + the registry)"
run bash -euo pipefail "$TMP/readme/install.sh"
no_warnings "the README's install block"
APP="$TMP/greet"
cd "$APP"
[ "$(npm pkg get type)" = '"module"' ] || fail "package.json has no \"type\": \"module\" after the README's install block"
[ -f node_modules/@protosocket/runtime/proto/protosocket/v1/options.proto ] ||
  fail "node_modules/@protosocket/runtime/proto/protosocket/v1/options.proto is missing after npm install"
[ -x node_modules/.bin/protoc-gen-protosocket ] || fail "npm install did not link the protoc-gen-protosocket bin"
step "the README's install block of the CLI, OpenTelemetry and connect-es packages"
run bash -euo pipefail "$TMP/readme/install-more.sh"
no_warnings "the README's install block of the CLI, OpenTelemetry and connect-es packages"
run npm ls --all
[ -x node_modules/.bin/protosocket ] || fail "npm install did not link the protosocket bin"

# ---------------------------------------------------------------------------
# 3. The quick start.

step "buf generate per README"
mkdir -p proto/greet/v1
cp "$TMP/readme/greet.proto" proto/greet/v1/greet.proto
cp "$TMP/readme/buf.yaml" buf.yaml
cp "$TMP/readme/buf.gen.yaml" buf.gen.yaml
run bash -euo pipefail "$TMP/readme/generate.sh"
no_warnings "npx buf generate"
for f in src/gen/greet/v1/greet_pb.ts src/gen/greet/v1/greet_protosocket.ts; do
  [ -f "$f" ] || fail "npx buf generate did not write $f"
done
if [ -e src/gen/protosocket ]; then
  fail "npx buf generate also generated the runtime's protos (src/gen/protosocket): buf.gen.yaml's inputs should limit it to proto/"
fi

step "tsc per README (and once more with the strictest options), run the server and client"
cp "$TMP/readme/tsconfig.json" tsconfig.json
# Deviations from the README's snippets, so that one program runs both: the
# server listens on port 0 and exports what the client needs; the client
# connects to that port and closes the server at the end.
sed 's/port: 7000 })/port: 0 })/' "$TMP/readme/server.ts" >src/server.ts
echo 'export { server, port };' >>src/server.ts
{
  echo 'import { server, port } from "./server.js";'
  sed 's/port: 7000 })/port })/' "$TMP/readme/client.ts"
  echo 'await server.close({ graceMs: 5000 });'
} >src/client.ts
grep -q 'port: 0 })' src/server.ts && grep -q 'port })' src/client.ts ||
  fail "the README's snippets no longer contain 'port: 7000 })': update the substitutions in scripts/new-user-test.sh"
run npx --no-install tsc
[ ! -s "$LOG" ] || { cat "$LOG" >&2; fail "npx tsc printed something"; }
run npx --no-install tsc --noEmit -p . --exactOptionalPropertyTypes --noUncheckedIndexedAccess --verbatimModuleSyntax --isolatedModules --skipLibCheck false
if ! timeout 30 node dist/client.js >"$TMP/out" 2>&1; then
  cat "$TMP/out" >&2
  fail "node dist/client.js (the README's server and client) failed or did not exit within 30 s"
fi
expected=$'Hello, Ada\n1\n2\n3'
if [ "$(cat "$TMP/out")" != "$expected" ]; then
  echo "expected:" >&2
  echo "$expected" >&2
  echo "got:" >&2
  cat "$TMP/out" >&2
  fail "the README's server and client printed something else"
fi

# The protoc path, when protoc (with its well-known types) is installed.
protoc_result="protoc check skipped"
if ! command -v protoc >/dev/null 2>&1; then
  step "protoc not installed: skipping the README's protoc command"
else
  mkdir -p "$TMP/wkt"
  printf 'syntax = "proto3";\nimport "google/protobuf/descriptor.proto";\n' >"$TMP/wkt/probe.proto"
  if ! protoc -I "$TMP/wkt" --descriptor_set_out=/dev/null probe.proto >/dev/null 2>&1; then
    step "protoc cannot import google/protobuf/descriptor.proto (install its include files, e.g. libprotobuf-dev): skipping the README's protoc command"
    protoc_result="protoc check skipped (no well-known types)"
  else
    step "protoc per README ($(protoc --version)), same files as buf generate"
    mv src/gen "$TMP/gen-buf"
    run bash -euo pipefail "$TMP/readme/protoc.sh"
    if ! diff -r "$TMP/gen-buf" src/gen >"$LOG" 2>&1; then
      head -40 "$LOG" >&2
      fail "the README's protoc command generates different files than its buf generate"
    fi
    protoc_result="protoc command generates the same files"
  fi
fi

step "the installed CLI lists the quick start's service"
run npx --no-install protosocket list --proto proto/greet/v1/greet.proto
grep -qx "greet.v1.GreetService" "$LOG" || { cat "$LOG" >&2; fail "npx protosocket list --proto proto/greet/v1/greet.proto does not list greet.v1.GreetService"; }

# ---------------------------------------------------------------------------
# 4. Every other TypeScript block of the documentation, in this project.

step "the documentation's TypeScript blocks (scripts/check-docs.mjs)"
node "$ROOT/scripts/check-docs.mjs" --project "$APP" ${KEEP_TMP:+--keep}

echo "new-user-test: OK on node $(node --version) in $((SECONDS - start)) s — npm run pack, the README's install blocks with no warning, buf generate, tsc, server + client printed Hello, Ada and ticks 1 2 3, the CLI listed greet.proto, the docs' TypeScript blocks compile; $protoc_result"
