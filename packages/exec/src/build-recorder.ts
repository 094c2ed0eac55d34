// What resource and set_pipeline steps hand to the web/DB layer while a build runs (Concourse's step
// delegates that write to the database: check scopes, build outputs, resource metadata, pipelines). Every
// member is optional; a step that needs a missing one errors, a notification without a listener is skipped.
import type { Source, Version } from '@jetbridge/plan';
import type { BuildIdentity } from './run-state.js';

/** One `{name, value}` pair of resource metadata, as `in`/`out` print it. */
export interface MetadataField {
  name: string;
  value: string;
}

/** Which resource config a check or fetch is about (the resource config is type + interpolated source). */
export interface ResourceConfigRef {
  planId: string;
  /** The step's name: the resource's or resource type's name for checks, the artifact name for get/put. */
  name: string;
  /** The pipeline resource (absent for anonymous resources such as task images). */
  resourceName?: string;
  /** The pipeline resource type a check is for. */
  resourceTypeName?: string;
  type: string;
  /** The source with vars resolved: what identifies the resource config and its version history. */
  source: Source;
}

export interface CheckVersions extends ResourceConfigRef {
  /** What `check` printed, oldest first (the order Concourse saves them in). */
  versions: Version[];
}

export interface FetchedVersion extends ResourceConfigRef {
  version: Version;
  metadata: MetadataField[];
}

/** A `set_pipeline` step's request: the file and vars as fetched and interpolated by the step. */
export interface SetPipelineRequest {
  planId: string;
  build: BuildIdentity;
  /** The pipeline to set; `self` already replaced by the build's pipeline (and its instance vars). */
  pipelineName: string;
  /** Another team's pipeline (only the main team may); absent for the build's own team. */
  teamName?: string;
  instanceVars?: Record<string, unknown>;
  /** The pipeline file as read from the artifact. */
  config: string;
  /** Static vars (`vars:`) to render the file with; instance vars take precedence over them. */
  vars?: Record<string, unknown>;
  /** `var_files:` as read, in list order (the first file that defines a var wins). */
  varFiles: Array<{ path: string; content: string }>;
  /** Print to the step's log: the diff and `no changes to apply.` (stdout), warnings and errors (stderr). */
  stdout(text: string): Promise<void>;
  stderr(text: string): Promise<void>;
}

export type SetPipelineResult =
  /** The config was valid: saved when `changed` (a `set-pipeline-changed` event tells which). */
  | { changed: boolean }
  /** The config could not be parsed or validated; the setter printed why and the step fails. */
  | { invalid: true };

export interface BuildRecorder {
  /**
   * A check step's result: save the versions to the resource config's history (Concourse's
   * scope.SaveVersions). A rejection errors the step.
   */
  onCheckVersions?(result: CheckVersions): void | Promise<void>;
  /**
   * The version a check starts from when its plan has no `from_version`: the latest version of the resource
   * config's history, or undefined when it has none.
   */
  latestCheckedVersion?(config: ResourceConfigRef): Promise<Version | undefined>;
  /** A get of a pipeline resource fetched a version (update its metadata). Failures are only logged. */
  onGetVersion?(result: FetchedVersion): void | Promise<void>;
  /** A put of a pipeline resource created a version: save it as a build output. A rejection errors the step. */
  onPutVersion?(result: FetchedVersion): void | Promise<void>;
  /** Parse, validate, diff and save a pipeline for a set_pipeline step; rejections error the step. */
  setPipeline?(request: SetPipelineRequest): Promise<SetPipelineResult>;
}
