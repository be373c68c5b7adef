export type { CasePath, EnvelopeFields, ErrorCase, FieldStep, MethodBinding, MethodKind, ServiceBinding } from "./binding.js";
export {
  BindingError,
  defaultCaseName,
  findRequestClash,
  isBoundService,
  resolveCasePath,
  resolveServiceBinding,
  STATUS_TYPE_NAME,
  type MessageLookup,
} from "./resolve.js";
