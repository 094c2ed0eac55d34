// A task's configuration (`task.yml` or a task step's inline `config:`), as Concourse's `atc.TaskConfig`.
// Field names are the wire (JSON/YAML) names so a decoded config serialises back unchanged.

export interface TaskConfig {
  /** Required: the platform a worker must advertise (linux, darwin, windows). */
  platform?: string;
  /** A raw image URI for the runtime; rarely used. */
  rootfs_uri?: string;
  /** Anonymous resource fetched to provide the image. */
  image_resource?: TaskImageResource;
  container_limits?: ContainerLimits;
  /** Environment of the task process. Scalars are coerced to strings when decoding (null → ""). */
  params?: Record<string, string>;
  run: TaskRunConfig;
  inputs?: TaskInputConfig[];
  outputs?: TaskOutputConfig[];
  caches?: TaskCacheConfig[];
}

export interface TaskImageResource {
  name: string;
  type: string;
  source: Record<string, unknown>;
  version?: Record<string, string>;
  params?: Record<string, unknown>;
  tags?: string[];
}

/** CPU shares and memory in bytes (a string such as "1GB" is decoded to bytes, always binary units). */
export interface ContainerLimits {
  cpu?: number;
  memory?: number;
}

export interface TaskRunConfig {
  /** Executable to run; `[v8.0+]` may be empty when the image has an ENTRYPOINT/CMD. */
  path: string;
  args?: string[];
  /** Working directory of the process, relative to the task's working directory. */
  dir?: string;
  user?: string;
}

export interface TaskInputConfig {
  name: string;
  /** Where the input is mounted, relative to the working directory; defaults to `name`. */
  path?: string;
  optional?: boolean;
}

export interface TaskOutputConfig {
  name: string;
  /** Where the output directory is, relative to the working directory; defaults to `name`. */
  path?: string;
}

export interface TaskCacheConfig {
  path: string;
  /** A Go duration, at least 1s `[v8.2+]`. */
  ttl?: string;
}
