// A pipeline's configuration as Concourse's `atc.Config` models it (atc/config.go, atc/job_config.go).
// Field names are the wire (YAML/JSON) names. An absent optional field is `undefined`; fields Go encodes
// without `omitempty` (`source`, `plan`, var source `config`) keep "absent" distinct from "empty" because
// fly compares the two differently when it diffs a pipeline.
import type { Step } from './steps.js';

export type Source = Record<string, unknown>;
export type Params = Record<string, unknown>;
/** A resource version: a flat map of strings. */
export type Version = Record<string, string>;

export interface PipelineConfig {
  groups?: GroupConfig[];
  var_sources?: VarSourceConfig[];
  resources?: ResourceConfig[];
  resource_types?: ResourceTypeConfig[];
  /** Experimental "run" step types (RFC 37); same fields as a resource type. */
  prototypes?: PrototypeConfig[];
  jobs?: JobConfig[];
  display?: DisplayConfig;
  /** `[v8.2+]` free-form data stored and returned with the pipeline, never used at runtime. */
  user_data?: unknown;
}

/** A UI tab: job globs (gobwas/glob syntax) and resource names. */
export interface GroupConfig {
  name: string;
  jobs?: string[];
  resources?: string[];
}

export interface VarSourceConfig {
  name: string;
  type: string;
  /** Free-form; may reference other var sources with `((other:path))`. Undefined encodes as `null`. */
  config?: unknown;
}

export interface ResourceConfig {
  name: string;
  old_name?: string;
  public?: boolean;
  webhook_token?: string;
  type: string;
  /** Opaque to Concourse; passed to the resource scripts. Undefined encodes as `null`. */
  source?: Source;
  /** `"never"`, or a Go duration in Go's canonical form (`90s` is kept as `1m30s`); `""` means the default. */
  check_every?: string;
  check_timeout?: string;
  tags?: string[];
  /** Pins the resource to this version for every job. */
  version?: Version;
  icon?: string;
  expose_build_created_by?: boolean;
}

export interface ResourceTypeConfig {
  name: string;
  type: string;
  source?: Source;
  /** Merged (top-level keys) under the `source` of every resource of this type. */
  defaults?: Source;
  privileged?: boolean;
  /** As for resources; re-check interval of the type's image. */
  check_every?: string;
  tags?: string[];
  params?: Params;
}

export type PrototypeConfig = ResourceTypeConfig;

export interface DisplayConfig {
  background_image?: string;
  background_filter?: string;
}

export interface BuildLogRetention {
  builds?: number;
  minimum_succeeded_builds?: number;
  days?: number;
}

export interface JobConfig {
  name: string;
  /** Rename: the job currently called `old_name` keeps its builds under the new name. */
  old_name?: string;
  public?: boolean;
  disable_manual_trigger?: boolean;
  /** `[v8.1+]` */
  disable_reruns?: boolean;
  serial?: boolean;
  interruptible?: boolean;
  serial_groups?: string[];
  max_in_flight?: number;
  /** `[HEAD]` default worker tags for the job's steps. */
  tags?: string[];
  /** Deprecated in favour of `build_log_retention.builds` (a warning). */
  build_logs_to_retain?: number;
  build_log_retention?: BuildLogRetention;
  on_success?: Step;
  on_failure?: Step;
  on_abort?: Step;
  on_error?: Step;
  ensure?: Step;
  /** Run like a `do`. Undefined (no `plan:` key) encodes as `null`. */
  plan?: Step[];
}

/** A warning that does not stop a pipeline from being saved (`atc.ConfigWarning`). */
export interface ConfigWarning {
  /** `invalid_identifier`, `deprecated_field`, `var_shadowed`, `pipeline`. */
  type: string;
  message: string;
}
