import type { DescEnum, DescMessage, DescMethod, DescService, FileRegistry } from "@bufbuild/protobuf";
import { defineStandardService, healthDefinition, type ServiceDefinition } from "@protosocket/runtime";
import { BindingError, isBoundService, serviceFromRegistry } from "@protosocket/runtime/protocol";
import { schemaError, usageError } from "../exit-codes.js";
import { didYouMean } from "../suggest.js";

/** A service of the schema and its envelope binding, or why it has none. */
export interface SchemaService {
  /** The service descriptor. */
  readonly desc: DescService;
  /** The service bound to its envelopes; undefined when it cannot be bound. */
  readonly definition: ServiceDefinition | undefined;
  /** Why the service cannot be bound (the binding rule it breaks, naming the fix). */
  readonly bindingError: string | undefined;
  /**
   * True for a service with no `(protosocket.v1.envelope)` option: it is
   * called through the standard envelope (protosocket.v1.Request/Response,
   * the method named in each request).
   */
  readonly standard: boolean;
}

/** A method named on the command line, found in the schema. */
export interface SchemaMethod {
  readonly service: SchemaService;
  readonly method: DescMethod;
}

/**
 * The descriptors the CLI works from (compiled --proto files and --image
 * images): every service with its binding resolved by the runtime's own
 * rules, and lookups by the names people type, with near-name suggestions.
 */
export class Schema {
  /** The registry of every file, for fromJson/toJson and google.protobuf.Any. */
  readonly registry: FileRegistry;
  private serviceList: SchemaService[] | undefined;

  /** @param registry every file of the schema, imports included. */
  constructor(registry: FileRegistry) {
    this.registry = registry;
  }

  /** Every service in the schema, bound or not, by full name. */
  get services(): readonly SchemaService[] {
    if (this.serviceList === undefined) {
      const list: SchemaService[] = [];
      for (const file of this.registry.files) {
        for (const desc of file.services) list.push(bindService(desc, this.registry));
      }
      bindHealth(list);
      list.sort((a, b) => a.desc.typeName.localeCompare(b.desc.typeName));
      this.serviceList = list;
    }
    return this.serviceList;
  }

  /**
   * Finds a service by full name ("echo.v1.EchoService"), or by its short name
   * ("EchoService") when only one service has it.
   *
   * @throws CliError (usage) for an unknown or ambiguous name, with suggestions.
   */
  service(name: string): SchemaService {
    const exact = this.services.find((s) => s.desc.typeName === name);
    if (exact !== undefined) return exact;
    const short = this.services.filter((s) => s.desc.name === name || s.desc.typeName.endsWith(`.${name}`));
    if (short.length === 1) return short[0] as SchemaService;
    if (short.length > 1) {
      throw usageError(`service "${name}" is ambiguous: ${short.map((s) => s.desc.typeName).join(", ")}; write the full name`);
    }
    if (this.services.length === 0) throw schemaError("the schema has no services");
    const names = this.services.flatMap((s) => [s.desc.typeName, s.desc.name]);
    const hint = didYouMean(name, names);
    throw usageError(`unknown service "${name}"${hint === "" ? `; the schema has ${this.serviceNames()}` : hint}`);
  }

  /**
   * Finds a method from "pkg.Service/Method" (or "pkg.Service.Method", or
   * "Service/Method" when the short name is unique).
   *
   * @throws CliError (usage) for an unknown service or method, with suggestions.
   */
  method(ref: string): SchemaMethod {
    let serviceName: string;
    let methodName: string;
    const slash = ref.lastIndexOf("/");
    if (slash >= 0) {
      serviceName = ref.slice(0, slash);
      methodName = ref.slice(slash + 1);
    } else {
      const dot = ref.lastIndexOf(".");
      if (dot < 0) throw usageError(`"${ref}" is not a method; write pkg.Service/Method (see protosocket list)`);
      serviceName = ref.slice(0, dot);
      methodName = ref.slice(dot + 1);
    }
    if (serviceName === "" || methodName === "")
      throw usageError(`"${ref}" is not a method; write pkg.Service/Method (see protosocket list)`);
    const service = this.service(serviceName);
    const method = service.desc.methods.find((m) => m.name === methodName);
    if (method !== undefined) return { service, method };
    const names = service.desc.methods.map((m) => m.name);
    const hint = didYouMean(methodName, names);
    throw usageError(
      `service ${service.desc.typeName} has no method "${methodName}"${hint === "" ? `; its methods: ${names.join(", ") || "none"}` : hint}`,
    );
  }

  /**
   * The service's definition for calls.
   *
   * @throws CliError (schema) naming the binding rule the service breaks.
   */
  definition(service: SchemaService): ServiceDefinition {
    if (service.definition === undefined) {
      throw schemaError(`cannot call ${service.desc.typeName}: ${service.bindingError ?? "it has no envelope binding"}`);
    }
    return service.definition;
  }

  /**
   * A message or enum type by full name ("shop.v1.Category"), or by a
   * shorter name when only one type has it: its own name ("Category") or the
   * end of its full name after a dot ("v1.Category", "Order.Status").
   *
   * @throws CliError (usage) for a short name that several types have, listing them.
   */
  type(name: string): DescMessage | DescEnum | undefined {
    const exact = this.registry.getMessage(name) ?? this.registry.getEnum(name);
    if (exact !== undefined || name === "") return exact;
    const short = this.types().filter((t) => t.name === name || t.typeName.endsWith(`.${name}`));
    if (short.length > 1) {
      throw usageError(`"${name}" is ambiguous: ${short.map((t) => t.typeName).join(", ")}; write the full name`);
    }
    return short[0];
  }

  /** Every message and enum full name (for suggestions). */
  typeNames(): string[] {
    return this.types().map((t) => t.typeName);
  }

  /** Every message and enum type of the schema, nested ones included. */
  private types(): (DescMessage | DescEnum)[] {
    const types: (DescMessage | DescEnum)[] = [];
    for (const file of this.registry.files) {
      const walk = (messages: readonly DescMessage[]) => {
        for (const m of messages) {
          types.push(m);
          types.push(...m.nestedEnums);
          walk(m.nestedMessages);
        }
      };
      walk(file.messages);
      types.push(...file.enums);
    }
    return types;
  }

  private serviceNames(): string {
    const names = this.services.map((s) => s.desc.typeName);
    return names.length <= 8 ? names.join(", ") : `${names.slice(0, 8).join(", ")} and ${names.length - 8} more`;
  }
}

function bindService(desc: DescService, registry: FileRegistry): SchemaService {
  if (!isBoundService(desc)) return { desc, definition: defineStandardService(desc), bindingError: undefined, standard: true };
  try {
    return { desc, definition: serviceFromRegistry(desc, registry), bindingError: undefined, standard: false };
  } catch (e) {
    const message = e instanceof BindingError ? e.message : `${desc.typeName}: ${(e as Error).message}`;
    return { desc, definition: undefined, bindingError: message, standard: false };
  }
}

/**
 * protosocket.v1.Health has no envelope option of its own. On a server of
 * bound envelopes it travels in the envelopes of the services it reports on
 * (their health_check and health_watch cases), as the server's
 * registerHealth() binds it: bind it through the first bound service whose
 * envelopes have those cases. When the schema has no bound service, it is a
 * service of the standard envelope like the others.
 */
function bindHealth(list: SchemaService[]): void {
  const i = list.findIndex((s) => s.desc.typeName === "protosocket.v1.Health");
  const health = list[i];
  if (health === undefined) return;
  const bound = list.filter((s) => s.definition !== undefined && !s.standard && s !== health);
  if (bound.length === 0) return;
  const reasons: string[] = [];
  for (const s of bound) {
    try {
      list[i] = {
        desc: health.desc,
        definition: healthDefinition(s.definition as ServiceDefinition, { service: health.desc }),
        bindingError: undefined,
        standard: false,
      };
      return;
    } catch (e) {
      reasons.push(e instanceof Error ? e.message : String(e));
    }
  }
  // Standard services beside the bound ones: Health is theirs.
  if (list.some((s) => s.standard && s !== health)) return;
  list[i] = {
    desc: health.desc,
    definition: undefined,
    standard: false,
    bindingError: `it travels in the envelopes of the services it reports on, and none has health_check / health_watch cases${reasons[0] !== undefined ? ` (${reasons[0]})` : ""}`,
  };
}
