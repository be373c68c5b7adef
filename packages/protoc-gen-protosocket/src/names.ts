/**
 * The names generated for one service. `create<Service>Client`,
 * `register<Service>` and `<Service>Definition` are public API.
 */
export function serviceNames(serviceName: string) {
  return {
    definition: `${serviceName}Definition`,
    client: `${serviceName}Client`,
    createClient: `create${serviceName}Client`,
    handlers: `${serviceName}Handlers`,
    register: `register${serviceName}`,
    registerPartial: `register${serviceName}Partial`,
  };
}
