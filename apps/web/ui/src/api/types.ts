// The JSON shapes of the Concourse API as the UI reads them (shared/concourse-api.md §2). Times are Unix
// seconds; `?` fields are Go `omitempty` fields, absent when zero.

export type BuildStatus = 'pending' | 'started' | 'succeeded' | 'failed' | 'errored' | 'aborted';

export const TERMINAL_STATUSES: readonly BuildStatus[] = ['succeeded', 'failed', 'errored', 'aborted'];

export function isRunning(status: BuildStatus): boolean {
  return status === 'pending' || status === 'started';
}

export type InstanceVars = Record<string, unknown>;

export interface Info {
  version: string;
  worker_version: string;
  external_url?: string;
  cluster_name?: string;
}

/** `GET /api/v1/user` (§2.15). */
export interface UserInfo {
  sub: string;
  name: string;
  user_id: string;
  user_name: string;
  email: string;
  is_admin: boolean;
  is_system: boolean;
  teams: Record<string, string[]>;
  display_user_id?: string;
}

export interface Team {
  id?: number;
  name?: string;
}

/** §2.4 */
export interface Build {
  id: number;
  team_name: string;
  name: string;
  status: BuildStatus;
  api_url?: string;
  comment?: string;
  job_name?: string;
  resource_name?: string;
  pipeline_id?: number;
  pipeline_name?: string;
  pipeline_instance_vars?: InstanceVars;
  start_time?: number;
  end_time?: number;
  reap_time?: number;
  rerun_number?: number;
  rerun_of?: { id?: number; name?: string };
  created_by?: string;
}

/** §2.3 */
export interface Pipeline {
  id: number;
  name: string;
  instance_vars?: InstanceVars;
  paused: boolean;
  paused_by?: string;
  paused_at?: number;
  public: boolean;
  archived: boolean;
  groups?: PipelineGroup[];
  team_name: string;
  last_updated?: number;
}

export interface PipelineGroup {
  name: string;
  jobs?: string[];
  resources?: string[];
}

export interface JobInput {
  name: string;
  resource: string;
  trigger?: boolean;
  passed?: string[];
}

export interface JobOutput {
  name: string;
  resource: string;
}

/** §2.5: Job and JobSummary share the names the UI reads. */
export interface Job {
  id: number;
  name: string;
  team_name: string;
  pipeline_id: number;
  pipeline_name: string;
  pipeline_instance_vars?: InstanceVars;
  paused?: boolean;
  paused_by?: string;
  has_new_inputs?: boolean;
  groups?: string[];
  disable_manual_trigger?: boolean;
  disable_reruns?: boolean;
  next_build?: Build | null;
  finished_build?: Build | null;
  transition_build?: Build | null;
  inputs?: JobInput[];
  outputs?: JobOutput[];
}

export type Version = Record<string, string>;
export interface MetadataField {
  name: string;
  value: string;
}

/** §2.8 */
export interface Resource {
  name: string;
  pipeline_id: number;
  pipeline_name: string;
  team_name: string;
  type: string;
  last_checked?: number;
  icon?: string;
  pinned_version?: Version;
  pinned_in_config?: boolean;
  pin_comment?: string;
  build?: Build;
}

/** §2.9 */
export interface ResourceVersion {
  id: number;
  version: Version;
  metadata?: MetadataField[];
  enabled: boolean;
}

/** §2.6 */
export type PreparationStatus = 'unknown' | 'blocking' | 'not_blocking';
export interface BuildPreparation {
  build_id: number;
  paused_pipeline: PreparationStatus;
  paused_job: PreparationStatus;
  max_running_builds: PreparationStatus;
  inputs: Record<string, PreparationStatus>;
  inputs_satisfied: PreparationStatus;
  missing_input_reasons: Record<string, string>;
}

/** §2.7 */
export interface BuildResources {
  inputs: Array<{ name: string; version: Version; pipeline_id?: number; first_occurrence?: boolean }>;
  outputs: Array<{ name: string; version: Version }>;
}

export interface BuildInput {
  name: string;
  resource: string;
  type: string;
  version: Version;
}

/** §4.3: a public plan node: an id and exactly one step key. */
export interface PublicPlan {
  id: string;
  attempts?: number[];
  [step: string]: unknown;
}

/** §3.2: one build event as the event stream sends it. */
export interface BuildEventEnvelope {
  event: string;
  version?: string;
  event_id?: string;
  data: Record<string, unknown>;
}
