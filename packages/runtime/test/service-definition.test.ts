import { create, createFileRegistry, createRegistry } from "@bufbuild/protobuf";
import { file_google_protobuf_empty, FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { EchoService, file_echo_v1_echo } from "@protosocket/gen/echo/v1/echo_pb.js";
import { EchoServiceDefinition } from "@protosocket/gen/echo/v1/echo_protosocket.js";
import { file_interop_v1_interop } from "@protosocket/gen/interop/v1/interop_pb.js";
import { file_interop_v1_interop_service, InteropService } from "@protosocket/gen/interop/v1/interop_service_pb.js";
import { describe, expect, it } from "vitest";
import { BindingError, defineService, serviceFromRegistry } from "../src/protocol.js";

describe("defineService: the binding from the descriptor protoc-gen-es embeds", () => {
  it("is the binding resolved from a registry of the same files", () => {
    const fromDescriptor = defineService(EchoService);
    const fromRegistry = serviceFromRegistry(EchoService, createRegistry(file_echo_v1_echo));
    expect(fromDescriptor.binding).toEqual(fromRegistry.binding);
    expect(fromDescriptor.binding.response.error?.typeName).toBe("protosocket.v1.Status");
    expect(fromDescriptor.requestEnvelope.typeName).toBe("echo.v1.EchoRequestEnvelope");
    expect(fromDescriptor.responseEnvelope.typeName).toBe("echo.v1.EchoResponseEnvelope");
    // What generated code exports is made the same way.
    expect(EchoServiceDefinition.binding).toEqual(fromDescriptor.binding);
  });

  it("finds envelopes of another file the service's file imports, with the custom options of both", () => {
    const def = defineService(InteropService);
    expect(def.binding).toEqual(
      serviceFromRegistry(InteropService, createRegistry(file_interop_v1_interop, file_interop_v1_interop_service)).binding,
    );
    expect(def.requestEnvelope.file.name).toBe("interop/v1/interop");
    expect(def.binding.request.id.name).toBe("request_id");
    expect(def.binding.request.code.name).toBe("code");
  });

  it("throws a BindingError naming the service when it has no envelope option", () => {
    const registry = createFileRegistry(
      create(FileDescriptorProtoSchema, {
        name: "plain/v1/plain.proto",
        package: "plain.v1",
        dependency: ["google/protobuf/empty.proto"],
        syntax: "proto3",
        service: [{ name: "Plain", method: [{ name: "Call", inputType: ".google.protobuf.Empty", outputType: ".google.protobuf.Empty" }] }],
      }),
      () => file_google_protobuf_empty,
    );
    const plain = registry.getService("plain.v1.Plain");
    if (plain === undefined) throw new Error("plain.v1.Plain is not in the registry");
    expect(() => defineService(plain)).toThrow(BindingError);
    expect(() => defineService(plain)).toThrow(
      'plain/v1/plain.proto: service plain.v1.Plain: has no envelope binding; add option (protosocket.v1.envelope) = { request: "MyRequestEnvelope" response: "MyResponseEnvelope" };',
    );
  });
});
