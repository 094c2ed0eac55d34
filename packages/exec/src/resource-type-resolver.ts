// How a resource step finds its resource type's `check`, `in` and `out` executables. Concourse runs them at
// /opt/resource/ in a container of the type's image; a runtime whose containers are host processes runs them
// from a directory on the host instead. Implemented per runtime: `@jetbridge/resource-types` for the local
// runtime (built-in types, then a configured directory).
import type { ResourceTypeConfig, Source, TaskImageResource, TypeImage } from '@jetbridge/plan';
import type { ImageSpec } from '@jetbridge/runtime';
import type { RunState } from './run-state.js';
import { interpolate } from './vars/interpolate.js';

export type ResourceTypeExecutables =
  /**
   * Run `/opt/resource/{check,in,out}` in a container of `image` (a runtime with real containers);
   * `privileged` as the pipeline's resource type says.
   */
  | { kind: 'image'; image: ImageSpec; privileged?: boolean }
  /**
   * Run `<dir>/{check,in,out}` as host executables (the local runtime, which ignores images). Their first
   * argument is then `.`: the process starts in the directory the script works on (the get's destination,
   * the put's sources), because container paths are not host paths there.
   */
  | { kind: 'local-dir'; dir: string };

/** What the step lends a resolver: its vars, for an image resource's `source` (as the image check would). */
export interface ImageResolveContext {
  interpolate(source: Source): Promise<Source>;
}

/** The build's vars, resolved into an image resource's source as its image check and get would. */
export function imageResolveContext(state: RunState): ImageResolveContext {
  return { interpolate: (source) => interpolate(source, state.vars.lookup, { expectAllKeys: true }) };
}

export interface ResourceTypeResolver {
  /**
   * The executables of resource type `type` (the plan's `type`: a base type or a pipeline's custom type).
   * `image` is the plan's TypeImage (`base_type`, image sub-plans), for runtimes that run images. Rejects
   * with an error whose message the step shows, e.g. `unknown resource type 'x'`.
   */
  resolve(type: string, image: TypeImage, context?: ImageResolveContext): Promise<ResourceTypeExecutables>;
  /**
   * The image of a task's `image_resource` at the version to run (runtimes that pull images by reference:
   * its `version:`, else the latest checked one). Absent: the task runs the image resource's source as given.
   */
  taskImage?(
    resource: TaskImageResource,
    resourceTypes: readonly ResourceTypeConfig[],
  ): Promise<ImageSpec | undefined>;
}

/** Resolve with the build's resolver; a build without one knows no resource type at all. */
export async function resolveResourceType(
  resolver: ResourceTypeResolver | undefined,
  type: string,
  image: TypeImage,
  context?: ImageResolveContext,
): Promise<ResourceTypeExecutables> {
  if (resolver === undefined) throw new Error(`unknown resource type '${type}'`);
  return resolver.resolve(type, image, context);
}
