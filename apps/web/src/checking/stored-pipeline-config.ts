// A pipeline's current config, decoded from what `PUT P/config` stored (checks and job builds always plan
// from the current config, as Concourse does). Decoding is cached per config version.
import { findPipelineById, type Database, type Kysely, type PipelineRecord } from '@jetbridge/db';
import { parsePipelineConfig, type PipelineConfig } from '@jetbridge/pipeline-config';

export interface StoredPipeline {
  pipeline: PipelineRecord;
  config: PipelineConfig;
}

const CACHE_LIMIT = 200;
/** Per database (a process may serve several, as tests do): decoded configs by pipeline and version. */
const caches = new WeakMap<Kysely<Database>, Map<string, PipelineConfig>>();

/** The pipeline and its decoded config; undefined when it is gone or archived (no config). */
export async function loadStoredPipeline(
  db: Kysely<Database>,
  pipelineId: number,
): Promise<StoredPipeline | undefined> {
  const pipeline = await findPipelineById(db, pipelineId);
  if (pipeline === undefined || pipeline.config === null || pipeline.archived) return undefined;
  let decoded = caches.get(db);
  if (decoded === undefined) {
    decoded = new Map();
    caches.set(db, decoded);
  }
  const key = `${pipeline.id}:${pipeline.configVersion}:${pipeline.lastUpdated.getTime()}`;
  let config = decoded.get(key);
  if (config === undefined) {
    const parsed = parsePipelineConfig(JSON.stringify(pipeline.config), 'application/json');
    if (parsed.errors)
      throw new Error(`stored config of pipeline ${pipeline.id} is unreadable: ${parsed.errors.join('; ')}`);
    config = parsed.config;
    if (decoded.size >= CACHE_LIMIT) decoded.delete(decoded.keys().next().value as string);
    decoded.set(key, config);
  }
  return { pipeline, config };
}
