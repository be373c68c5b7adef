#!/usr/bin/env bash
# Regenerates the committed generated code and fails if it differs from what
# is committed (a changed .proto or plugin without `npm run generate`).
# Usage: scripts/check-generated.sh   (from anywhere; builds what the plugin needs)
set -euo pipefail
cd "$(dirname "$0")/.."

# Every directory `npm run generate` writes.
GENERATED=(
  examples/echo/src/gen
  examples/cluster/src/gen
  packages/runtime/src/gen
  packages/runtime/test/gen
  packages/protoc-gen-protosocket/test/gen
  interop/ts/gen
)

# Builds the runtime and protoc-gen-protosocket (it runs from dist), then runs
# every buf.gen template.
npm run --silent generate

# Modified, deleted and new (untracked) files alike.
changes="$(git status --porcelain --untracked-files=all -- "${GENERATED[@]}")"
if [ -n "$changes" ]; then
  echo "check-generated: the generated code is stale; run 'npm run generate' and commit the result:" >&2
  echo "$changes" >&2
  git --no-pager diff --stat -- "${GENERATED[@]}" >&2
  exit 1
fi
echo "check-generated: generated code is up to date (${GENERATED[*]})"
