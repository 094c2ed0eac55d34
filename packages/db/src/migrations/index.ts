import type { Migration } from 'kysely/migration';
import * as foundation from './0001_foundation.js';
import * as pipelines from './0002_pipelines.js';
import * as scheduling from './0003_scheduling.js';
import * as buildVarRefs from './0004_build_var_refs.js';
import * as buildStepResults from './0005_build_step_results.js';
import * as collectedStepOutput from './0006_collected_step_output.js';
import * as jobBuildIds from './0007_job_build_ids.js';
import * as jobSummaryIo from './0008_job_summary_io.js';

/**
 * Every migration, in order. Names sort lexically (kysely requires it); never edit a released one,
 * add a new file instead.
 */
export const migrations: Record<string, Migration> = {
  '0001_foundation': foundation,
  '0002_pipelines': pipelines,
  '0003_scheduling': scheduling,
  '0004_build_var_refs': buildVarRefs,
  '0005_build_step_results': buildStepResults,
  '0006_collected_step_output': collectedStepOutput,
  '0007_job_build_ids': jobBuildIds,
  '0008_job_summary_io': jobSummaryIo,
};
