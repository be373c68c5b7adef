// node scripts/set-version.mjs <version>: sets the version of the five
// published packages, and every dependency of one on another to
// "^<version>", so that each tarball installs with the others from the
// registry (scripts/package-test.sh fails when they disagree). Then run
// `npm install` to update package-lock.json. docs/releasing.md has the rest.
import { readFileSync, writeFileSync } from "node:fs";

const PACKAGES = ["runtime", "protoc-gen-protosocket", "cli", "opentelemetry", "connect"];
const version = process.argv[2] ?? "";
if (!/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(version)) {
  console.error("usage: node scripts/set-version.mjs <major.minor.patch[-prerelease]>");
  process.exit(2);
}
const root = new URL("../", import.meta.url);
const files = PACKAGES.map((p) => new URL(`packages/${p}/package.json`, root));
const manifests = files.map((f) => JSON.parse(readFileSync(f, "utf8")));
const ours = new Set(manifests.map((m) => m.name));
for (const [i, m] of manifests.entries()) {
  m.version = version;
  for (const field of ["dependencies", "peerDependencies", "optionalDependencies"]) {
    for (const dep of Object.keys(m[field] ?? {})) if (ours.has(dep)) m[field][dep] = `^${version}`;
  }
  writeFileSync(files[i], `${JSON.stringify(m, null, 2)}\n`);
  console.log(`${m.name} ${version}`);
}
