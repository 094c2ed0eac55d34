// @jetbridge/resource-types: the built-in resource types (time, mock) as host executables, and the
// resolver the local runtime uses to find a resource type's check/in/out by name.
export {
  BUILTIN_RESOURCE_TYPES,
  BUILTIN_RESOURCE_TYPES_DIR,
  LocalResourceTypeResolver,
  UnknownResourceTypeError,
  type LocalResourceTypeResolverOptions,
} from './local-resource-type-resolver.js';
