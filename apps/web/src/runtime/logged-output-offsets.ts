// Where a step's output stands in its build log: the raw byte offsets of its process's stdout and stderr up
// to which log events are stored. The node that ran the step put them in its log events (`output_offset`,
// the raw bytes before redaction, see packages/exec/src/log-event-writer.ts), so a node collecting the step
// after a crash resumes the process's output there — not at the end of its output files, which would lose
// what was printed while no node watched, and not at the sum of stored payloads, which redaction changes.
import { sql, type Database, type Kysely } from '@jetbridge/db';

/** Raw byte offsets of a step process's two output streams. */
export interface OutputOffsets {
  stdout: number;
  stderr: number;
}

/**
 * The offsets at the end of the stored log events of step `originId` in build `buildId`; 0 for a stream with
 * none (nothing of it is logged). Log events without `output_offset` (notices, or an older node's events)
 * count for nothing: the offsets grow with every event, so the newest one that has one tells.
 */
export async function loggedOutputOffsets(
  db: Kysely<Database>,
  buildId: number,
  originId: string,
): Promise<OutputOffsets> {
  const rows = await sql<{ source: string | null; offset: string | null }>`
    select payload::jsonb #>> '{data,origin,source}' as source,
           max((payload::jsonb #>> '{data,output_offset}')::bigint)::text as offset
    from build_events
    where build_id = ${buildId}
      and type = 'log'
      and payload like '%"output_offset"%'
      and payload::jsonb #>> '{data,origin,id}' = ${originId}
    group by 1
  `.execute(db);
  const offsets: OutputOffsets = { stdout: 0, stderr: 0 };
  for (const { source, offset } of rows.rows) {
    if ((source === 'stdout' || source === 'stderr') && offset !== null) offsets[source] = Number(offset);
  }
  return offsets;
}
