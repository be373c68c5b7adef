#!/usr/bin/env bash
# npm run pack: builds the two published packages and packs them into packs/
# under names without a version, the names README.md's install line uses:
#   packs/protosocket-runtime.tgz
#   packs/protosocket-protoc-gen-protosocket.tgz
set -euo pipefail
cd "$(dirname "$0")/.."
npm run --silent build
rm -rf packs
mkdir packs
for pkg in packages/runtime packages/protoc-gen-protosocket; do
  name="$(node -p "require('./$pkg/package.json').name.replace('@', '').replace('/', '-')")"
  file="$(npm pack --silent --pack-destination packs -w "$pkg" | tail -n 1)"
  mv "packs/$file" "packs/$name.tgz"
  echo "packs/$name.tgz"
done
