/**
 * The standard envelope's encoding: services with no envelope of their own,
 * carried by `protosocket.v1.Request` / `Response` and routed by method
 * name (standard-envelope-wire.ts), framed by varint length prefixes like
 * every protobuf envelope. Any services of this encoding share one
 * connection and one listener.
 */
import { create, type DescMethod, type DescService } from "@bufbuild/protobuf";
import type { EnvelopeCodecs, MethodCodec, ServiceEncoding } from "../encoding/encoding.js";
import type { AnyServiceDefinition, HealthCases, RpcMethod } from "../encoding/service.js";
import { Health } from "../gen/protosocket/v1/health_pb.js";
import { StatusSchema } from "../gen/protosocket/v1/status_pb.js";
import { varintFraming } from "../wire/framing.js";
import { createErrorCaseCodec } from "./error-case.js";
import type { ServiceDefinition } from "./service-definition.js";
import { standardDefinition, standardFields } from "./standard-definition.js";
import { StandardRequestWire, StandardResponseWire, standardTarget, type StandardTarget } from "./standard-envelope-wire.js";

const errorTarget = standardTarget("", StatusSchema, "error", standardFields.response.error.steps[0]?.number ?? 4);
const errorChannel = { target: errorTarget, codec: createErrorCaseCodec(StatusSchema, standardFields.response.error) };
/** One response wire for every service: a response does not depend on the method. */
const responseWire = new StandardResponseWire(errorTarget);

/** A method's targets, built once per method descriptor. */
const targets = new WeakMap<DescMethod, { request: StandardTarget; response: StandardTarget }>();

function targetsOf(typeName: string, m: DescMethod): { request: StandardTarget; response: StandardTarget } {
  let t = targets.get(m);
  if (t === undefined) {
    const method = `${typeName}/${m.name}`;
    t = {
      request: standardTarget(method, m.input, "body", standardFields.requestBody.number),
      response: standardTarget(method, m.output, "body", standardFields.responseBody.number),
    };
    targets.set(m, t);
  }
  return t;
}

/** The {@link Encoding} of services on the standard envelope (`defineStandardService`). */
export const standardEncoding: ServiceEncoding = {
  name: "the standard envelope (protosocket.v1.Request/Response)",
  createCodecs: (defs) => createStandardCodecs(defs as readonly ServiceDefinition[], false),
  // Any services share it: requests name their method.
  clash: () => undefined,
  health: (def, cases) => standardHealth(def, cases),
};

/**
 * The standard envelope for a client that does not know the server's
 * envelope (reflection): every request frame starts with the probe byte,
 * which servers of the standard envelope skip and every other protobuf
 * decoder refuses. Servers decode it as {@link standardEncoding}.
 */
export const standardProbeEncoding: ServiceEncoding = {
  name: "the standard envelope, probing (protosocket.v1.Request after a 0x00 byte)",
  createCodecs: (defs) => createStandardCodecs(defs as readonly ServiceDefinition[], true),
  clash: () => undefined,
  health: (def, cases) => standardHealth(def, cases),
};

/**
 * The codecs of services on the standard envelope, routing requests by
 * method name.
 *
 * @throws Error when two methods have one name (a service given twice, or
 * two descriptors of one service).
 */
function createStandardCodecs(defs: readonly ServiceDefinition[], probe: boolean): EnvelopeCodecs {
  const request = new StandardRequestWire(probe);
  const methods: MethodCodec[] = [];
  for (const def of defs) {
    const service = def.service as DescService;
    for (const desc of service.methods) {
      const { request: req, response: res } = targetsOf(service.typeName, desc);
      if (request.get(req.method) !== undefined) {
        throw new Error(`${req.method} is defined twice; a server (or connection) carries each method once`);
      }
      request.register(req);
      const binding = def.binding.methods.find((b) => b.name === desc.name);
      if (binding === undefined) throw new Error(`method ${desc.name} is not in the binding of ${service.typeName}`);
      methods.push({
        service: def,
        desc,
        binding,
        fullName: req.method,
        request: req,
        response: res,
        toRequest: (value) => create(desc.input, value as never),
        toResponse: (value) => create(desc.output, value as never),
      });
    }
  }
  const byDesc = new Map<RpcMethod, MethodCodec>(methods.map((m) => [m.desc, m]));
  const byRequest = new Map<unknown, MethodCodec>(methods.map((m) => [m.request, m]));
  return {
    framing: varintFraming,
    request,
    response: responseWire,
    error: errorChannel,
    // The request carries the deadline: the server ends the call at it too.
    sendsDeadline: true,
    methods,
    method: (desc) => byDesc.get(desc),
    route: (target) => byRequest.get(target),
  };
}

/**
 * protosocket.v1.Health on the standard envelope: a service like any other
 * there, named protosocket.v1.Health (`cases.service`, a copy of its
 * descriptor, for tools that work from other descriptors). The case names
 * of `cases` do not apply.
 */
function standardHealth(def: AnyServiceDefinition, cases: HealthCases): ServiceDefinition<typeof Health> {
  const service = (cases.service ?? Health) as typeof Health;
  if (service.typeName !== Health.typeName) throw new TypeError(`healthDefinition: ${service.typeName} is not ${Health.typeName}`);
  return standardDefinition(service, def.encoding);
}
