// The names of the vars a running build resolved, kept in `build_var_refs` (never their values): a node
// collecting the build's steps after a restart resolves them again to redact as the running node did, also
// those no stored plan shows (a task config read from a file in an artifact). Recorded before the value is
// handed to the engine, so no value reaches a step's output before its name is stored.
import { sql, type Database, type Kysely } from '@jetbridge/db';
import type { VarReference, VarsResolver } from '@jetbridge/exec';

/** `resolver`, storing the name of each var it resolves (once per build) before answering. */
export function recordingVarsResolver(
  db: Kysely<Database>,
  buildId: number,
  resolver: VarsResolver,
): VarsResolver {
  const recorded = new Map<string, Promise<void>>();
  const record = (source: string, path: string): Promise<void> => {
    const key = JSON.stringify([source, path]);
    let done = recorded.get(key);
    if (done === undefined) {
      done = sql`
        insert into build_var_refs (build_id, source, path) values (${buildId}, ${source}, ${path})
        on conflict do nothing`
        .execute(db)
        .then(() => undefined);
      // A failed insert is tried again by the next lookup of the same name.
      done.catch(() => recorded.delete(key));
      recorded.set(key, done);
    }
    return done;
  };
  return {
    async lookup(ref) {
      const found = await resolver.lookup(ref);
      // Undefined vars fail their step: nothing of them can be shown. A value is only given once its name
      // is stored (a failure to store it fails the lookup, and so the step, rather than risk a leak later).
      if (found !== undefined) await record(ref.source ?? '', ref.path);
      return found;
    },
  };
}

/** The refs recorded for `buildId` (no fields: the whole value of each is redacted). */
export async function recordedVarRefs(db: Kysely<Database>, buildId: number): Promise<VarReference[]> {
  const rows = await sql<{ source: string; path: string }>`
    select source, path from build_var_refs where build_id = ${buildId} order by source, path
  `.execute(db);
  return rows.rows.map(({ source, path }) =>
    source === '' ? { path, fields: [] } : { source, path, fields: [] },
  );
}
