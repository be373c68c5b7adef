// The plugin over a large real-world proto set: a wide slice of googleapis
// (from the google-proto-files package: hundreds of files, hundreds of plain
// gRPC services with HTTP annotations, long-running operations, field
// behaviours, resource options, nested and map types), plus a file with many
// services, some bound and some not. It must never crash: bound services
// generate, every unbound one is skipped with a warning naming it.
import { dirname, join } from "node:path";
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { compileProtos, generateFrom } from "./helpers.js";
import { boundCount, manyServices } from "./protos/many-services.js";

const googleapis = join(dirname(createRequire(import.meta.url).resolve("google-proto-files/package.json")));

/** Directories of googleapis that compile on their own (some others import protos the package lacks). */
const DIRS = [
  "google/api",
  "google/rpc",
  "google/type",
  "google/longrunning",
  "google/iam",
  "google/pubsub",
  "google/spanner",
  "google/firestore",
  "google/bigtable",
  "google/datastore",
  "google/logging",
  "google/storage",
  "google/cloud/aiplatform",
  "google/cloud/dialogflow",
  "google/cloud/bigquery",
  "google/cloud/retail",
  "google/cloud/vision",
  "google/cloud/speech",
  "google/cloud/tasks",
  "google/cloud/kms",
  "google/cloud/secretmanager",
];

const N = 60;

describe("a large real-world proto set", () => {
  it("generates the bound services and warns about each unbound one, for both targets", { timeout: 120_000 }, () => {
    const protoFile = compileProtos({ "many/v1/many.proto": manyServices(N) }, [googleapis], DIRS);
    const toGenerate = protoFile.filter((f) => DIRS.some((d) => f.name.startsWith(`${d}/`)) || f.name === "many/v1/many.proto");
    const unbound = toGenerate.flatMap((f) => f.service.map((s) => `${f.package}.${s.name}`));
    expect(toGenerate.length).toBeGreaterThan(500);
    expect(unbound.length).toBeGreaterThan(300);

    for (const target of ["target=ts", "target=js+dts"]) {
      const { files, warnings } = generateFrom(
        protoFile,
        toGenerate.map((f) => f.name),
        `${target},import_extension=js`,
      );
      // Only the file with bound services has output.
      expect([...files.keys()]).toEqual(
        target === "target=ts" ? ["many/v1/many_protosocket.ts"] : ["many/v1/many_protosocket.js", "many/v1/many_protosocket.d.ts"],
      );
      const content = files.get(target === "target=ts" ? "many/v1/many_protosocket.ts" : "many/v1/many_protosocket.d.ts") ?? "";
      expect(content.match(/^export type \w+Client = Client<typeof \w+>;$/gm)).toHaveLength(boundCount(N));
      // Every service without the option, googleapis and many.v1 alike, is named once.
      expect(warnings).toHaveLength(unbound.length - boundCount(N));
      expect(warnings).toContain(
        "protoc-gen-protosocket: skipping service google.longrunning.Operations: no (protosocket.v1.envelope) option (google/longrunning/operations.proto); add default_envelope=standard to generate it for the standard envelope",
      );
      expect(warnings).toContain(
        "protoc-gen-protosocket: skipping service many.v1.Unbound2: no (protosocket.v1.envelope) option (many/v1/many.proto); add default_envelope=standard to generate it for the standard envelope",
      );
      expect(
        warnings.every((w) =>
          /^protoc-gen-protosocket: skipping service [\w.]+: no \(protosocket\.v1\.envelope\) option \([\w/.-]+\.proto\); add default_envelope=standard to generate it for the standard envelope$/.test(
            w,
          ),
        ),
      ).toBe(true);
    }
  });

  it("with default_envelope=standard, generates every service, bound or not: the unbound ones for the standard envelope", {
    timeout: 120_000,
  }, () => {
    const protoFile = compileProtos({ "many/v1/many.proto": manyServices(N) }, [googleapis], DIRS);
    const toGenerate = protoFile.filter((f) => DIRS.some((d) => f.name.startsWith(`${d}/`)) || f.name === "many/v1/many.proto");
    const services = toGenerate.flatMap((f) => f.service.map((s) => `${f.package}.${s.name}`));
    const { files, warnings } = generateFrom(
      protoFile,
      toGenerate.map((f) => f.name),
      "target=ts,import_extension=js,default_envelope=standard",
    );
    const all = [...files.values()].join("\n");
    expect(all.match(/^export const \w+Definition: ServiceDefinition<typeof \w+> = /gm)).toHaveLength(services.length);
    expect(all.match(/defineStandardService\(\w+\);$/gm)).toHaveLength(services.length - boundCount(N));
    // Only client and bidi streaming methods are warned about (googleapis has some).
    expect(warnings.filter((w) => !/ (client|bidi) streaming is an extension of protosocket-ts/.test(w))).toEqual([]);
  });
});
