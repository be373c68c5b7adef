import type { DescMessage } from "@bufbuild/protobuf";
import {
  describeEnum,
  describeMessage,
  describeMethod,
  describeService,
  type EnumDescription,
  type MessageDescription,
  type MethodDescription,
  type ServiceDescription,
} from "../describe/descriptions.js";
import { renderEnum, renderMessage, renderMethod, renderMethodList, renderService, renderServiceList } from "../describe/render-text.js";
import { ExitCode, usageError } from "../exit-codes.js";
import type { CliIo } from "../io.js";
import { connectOptionsFrom, isAddress, parseTarget, type ConnectionFlags } from "../options/target.js";
import { loadSchema, type SchemaFlags } from "../schema/load-schema.js";
import type { Schema } from "../schema/schema.js";
import { didYouMean } from "../suggest.js";

/** Flags of `list` and `describe`. */
export interface DescribeFlags extends SchemaFlags, ConnectionFlags {
  /** `--json`: print the descriptions as JSON. */
  json?: boolean;
  /** `--timeout` of the reflection calls, ms. */
  timeout?: number;
}

/**
 * Splits the positional arguments of `list` and `describe`: an optional
 * server address first (its schema then comes by reflection, unless
 * `--proto` or `--image` name one), then the name.
 */
function splitArgs(args: readonly (string | undefined)[]): { address: string | undefined; name: string | undefined } {
  const given = args.filter((a): a is string => a !== undefined);
  if (given.length === 2) return { address: given[0], name: given[1] };
  const only = given[0];
  return only !== undefined && isAddress(only) ? { address: only, name: undefined } : { address: undefined, name: only };
}

async function schemaFor(address: string | undefined, flags: DescribeFlags, io: CliIo): Promise<Schema> {
  if (address === undefined) return loadSchema(flags, io.cwd);
  const target = parseTarget(address);
  // Checked here, so a bad flag is reported even when --proto makes the address unused.
  connectOptionsFrom(target, flags);
  return loadSchema(flags, io.cwd, { target, flags });
}

function print(io: CliIo, flags: DescribeFlags, value: unknown, text: string): void {
  io.stdout.write(flags.json === true ? `${JSON.stringify(value, null, 2)}\n` : text === "" ? "" : `${text}\n`);
}

/**
 * `protosocket list [host:port] [service]`: the schema's services (each
 * marked when it cannot be called), or one service's methods with their
 * kinds. With an address and no `--proto` or `--image`, the schema is the
 * server's, by reflection.
 */
export async function runList(first: string | undefined, second: string | undefined, flags: DescribeFlags, io: CliIo): Promise<number> {
  const { address, name: serviceName } = splitArgs([first, second]);
  const schema = await schemaFor(address, flags, io);
  if (serviceName === undefined) {
    const services = schema.services.map(describeService);
    print(io, flags, services, renderServiceList(services));
  } else {
    const service = describeService(schema.service(serviceName));
    print(io, flags, service.methods, renderMethodList(service));
  }
  return ExitCode.Ok;
}

/** What `describe --json` prints for a method: the method, and its input and output types. */
export interface MethodDetail extends MethodDescription {
  readonly kindOf: "method";
  readonly service: string;
  readonly inputType: MessageDescription;
  readonly outputType: MessageDescription;
}

/**
 * `protosocket describe [host:port] <name>`: a service (binding, envelopes,
 * error case, methods with their case paths), a method ("pkg.Service/Method",
 * with its input and output fields), or a message or enum type. With an
 * address and no `--proto` or `--image`, from the server's schema, by reflection.
 */
export async function runDescribe(first: string, second: string | undefined, flags: DescribeFlags, io: CliIo): Promise<number> {
  const { address, name } = splitArgs([first, second]);
  if (name === undefined)
    throw usageError(`describe ${first}: name a service, method, message or enum to describe (see protosocket list ${first})`);
  const schema = await schemaFor(address, flags, io);
  const found = lookup(schema, name);
  switch (found.kind) {
    case "service":
      print(io, flags, found.value, renderService(found.value));
      break;
    case "method":
      print(io, flags, found.value, renderMethod(found.value, found.value.inputType, found.value.outputType));
      break;
    case "message":
      print(io, flags, found.value, renderMessage(found.value));
      break;
    case "enum":
      print(io, flags, found.value, renderEnum(found.value));
      break;
  }
  return ExitCode.Ok;
}

type Found =
  | { kind: "service"; value: ServiceDescription }
  | { kind: "method"; value: MethodDetail }
  | { kind: "message"; value: MessageDescription }
  | { kind: "enum"; value: EnumDescription };

function methodDetail(schema: Schema, ref: string): MethodDetail {
  const { service, method } = schema.method(ref);
  return {
    kindOf: "method",
    service: service.desc.typeName,
    ...describeMethod(service, method),
    inputType: describeMessage(method.input as DescMessage),
    outputType: describeMessage(method.output as DescMessage),
  };
}

function lookup(schema: Schema, name: string): Found {
  if (name.includes("/")) return { kind: "method", value: methodDetail(schema, name) };
  const service = schema.services.find((s) => s.desc.typeName === name || s.desc.name === name);
  if (service !== undefined) return { kind: "service", value: describeService(schema.service(name)) };
  const type = schema.type(name);
  if (type !== undefined)
    return type.kind === "message" ? { kind: "message", value: describeMessage(type) } : { kind: "enum", value: describeEnum(type) };
  // "pkg.Service.Method"
  const dot = name.lastIndexOf(".");
  if (dot > 0 && schema.services.some((s) => s.desc.typeName === name.slice(0, dot) || s.desc.name === name.slice(0, dot))) {
    return { kind: "method", value: methodDetail(schema, name) };
  }
  const candidates = [
    ...schema.services.flatMap((s) => [s.desc.typeName, s.desc.name, ...s.desc.methods.map((m) => `${s.desc.typeName}/${m.name}`)]),
    ...schema.typeNames().flatMap((t) => [t, t.slice(t.lastIndexOf(".") + 1)]),
  ];
  const hint = didYouMean(name, candidates);
  throw usageError(`"${name}" is not a service, method, message or enum of the schema${hint === "" ? "; see protosocket list" : hint}`);
}
