/**
 * The names generated for one service: `<Service>Definition` (a value) and
 * the `<Service>Client` and `<Service>Handlers` types. All are public API.
 */
export function serviceNames(serviceName: string) {
  return {
    definition: `${serviceName}Definition`,
    client: `${serviceName}Client`,
    handlers: `${serviceName}Handlers`,
  };
}
