#!/usr/bin/env bash
# npm run pack: builds the five published packages and packs them into packs/
# under names without a version, the names README.md's install lines use:
#   packs/protosocket-runtime.tgz
#   packs/protosocket-protoc-gen-protosocket.tgz
#   packs/protosocket-cli.tgz
#   packs/protosocket-opentelemetry.tgz
#   packs/protosocket-connect.tgz
# scripts/package-test.sh installs each of them alone; docs/releasing.md
# publishes them.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run --silent build
rm -rf packs
mkdir packs
for pkg in packages/runtime packages/protoc-gen-protosocket packages/cli packages/opentelemetry packages/connect; do
  name="$(node -p "require('./$pkg/package.json').name.replace('@', '').replace('/', '-')")"
  file="$(npm pack --silent --pack-destination packs -w "$pkg" | tail -n 1)"
  mv "packs/$file" "packs/$name.tgz"
  echo "packs/$name.tgz"
done
