import { defineService } from "../../src/protocol.js";
import { EchoService } from "@protosocket/gen/echo/v1/echo_pb.js";
import { InteropService } from "@protosocket/gen/interop/v1/interop_service_pb.js";
import { KvService } from "@protosocket/gen/test/v1/grouped_pb.js";

/** Service definitions bound from the descriptors protoc-gen-es embeds, as generated code binds them. */
export const echoDef = defineService(EchoService);
export const kvDef = defineService(KvService);
export const interopDef = defineService(InteropService);
