// What a node collecting a step after a restart redacts: the values of the plan's ((var)) refs and of the var
// names the running node recorded, resolved through the build's resolver — or nothing is shown at all.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  allocateBuildId,
  createStartedOneOffBuild,
  type BuildRecord,
  type DatabaseHandle,
} from '@jetbridge/db';
import { startTestDatabase, type TestDatabase } from '@jetbridge/db/testing';
import { REDACTED } from '@jetbridge/exec';
import type { CredentialManager } from '../creds/credential-manager.js';
import { pipelineVarsResolver } from '../creds/pipeline-vars-resolver.js';
import { StaticCredentialManager } from '../creds/static-credential-manager.js';
import { recordedVarRefs, recordingVarsResolver } from './recorded-var-refs.js';
import { hasRedactedLoadVar, planVarRefs, recoveryRedaction } from './recovery-redaction.js';

let testDatabase: TestDatabase;
let database: DatabaseHandle;

const secrets = new StaticCredentialManager({
  'main/in-plan': 'plan-secret-1',
  'main/from-file': 'file-secret-2\nsecond-line-3',
  'main/registry': { username: 'bot-user-4', password: 'registry-pass-5' },
  'main/unused': 'never-referenced-6',
});

beforeAll(async () => {
  testDatabase = await startTestDatabase();
  database = testDatabase.database;
}, 60_000);

afterAll(async () => {
  await testDatabase?.destroy();
});

async function oneOffBuild(plan: Record<string, unknown>): Promise<BuildRecord> {
  const build = await createStartedOneOffBuild(database.db, {
    id: await allocateBuildId(database.db),
    teamName: 'main',
    plan,
    createdBy: null,
    trackedBy: 'test',
  });
  if (build === undefined) throw new Error('no build');
  return build;
}

describe('planVarRefs', () => {
  it('finds every reference in strings and keys, once each', () => {
    const plan = {
      id: '1',
      do: [
        {
          id: '2',
          task: { name: 't', config: { params: { A: '((a))', B: 'x-((src:b.c))-y', C: '((a))' } } },
        },
        { id: '3', put: { name: 'r', source: { '((key))': '((.:local))' } } },
      ],
    };
    expect(planVarRefs(plan)).toEqual([
      { path: 'a', fields: [] },
      { source: 'src', path: 'b', fields: ['c'] },
      { path: 'key', fields: [] },
      { source: '.', path: 'local', fields: [] },
    ]);
  });

  it('tells a redacted load_var from a revealed one', () => {
    expect(hasRedactedLoadVar({ do: [{ id: '1', load_var: { name: 'v', file: 'a/v' } }] })).toBe(true);
    expect(
      hasRedactedLoadVar({ do: [{ id: '1', load_var: { name: 'v', file: 'a/v', reveal: true } }] }),
    ).toBe(false);
  });
});

describe('recoveryRedaction', () => {
  it('redacts the values of the plan refs and of the names the running node recorded, and nothing else', async () => {
    const build = await oneOffBuild({
      id: '1',
      task: { name: 't', config: { params: { A: '((in-plan))', R: '((registry.password))' } } },
    });
    // The running node resolves a var the plan does not show (a task config file) and one nothing defines.
    const running = recordingVarsResolver(
      database.db,
      build.id,
      pipelineVarsResolver(secrets, { teamName: 'main' }),
    );
    expect(await running.lookup({ path: 'from-file' })).toEqual({ value: 'file-secret-2\nsecond-line-3' });
    expect(await running.lookup({ path: 'from-file' })).toBeDefined();
    expect(await running.lookup({ path: 'nowhere' })).toBeUndefined();
    const recorded = await recordedVarRefs(database.db, build.id);
    expect(recorded).toEqual([{ path: 'from-file', fields: [] }]);

    const redaction = await recoveryRedaction({
      db: database.db,
      credentials: secrets,
      build,
      recordedRefs: recorded,
    });
    if (redaction.kind !== 'redact') throw new Error(`withheld: ${redaction.reason}`);
    const text =
      'a plan-secret-1 b file-secret-2 c second-line-3 d registry-pass-5 e bot-user-4 f never-referenced-6';
    expect(redaction.redactor.redact(text)).toBe(
      `a ${REDACTED} b ${REDACTED} c ${REDACTED} d ${REDACTED} e bot-user-4 f never-referenced-6`,
    );
  });

  it('withholds when a var cannot be resolved, naming it but not its value', async () => {
    const failing: CredentialManager = {
      lookup: async () => {
        throw new Error('vault is sealed');
      },
    };
    const build = await oneOffBuild({
      id: '1',
      task: { name: 't', config: { params: { A: '((in-plan))' } } },
    });
    expect(await recoveryRedaction({ db: database.db, credentials: failing, build })).toEqual({
      kind: 'withheld',
      reason: 'its secrets could not be resolved (((in-plan))): vault is sealed',
    });
  });

  it('withholds for a pipeline build whose pipeline is gone, and for a redacted load_var', async () => {
    const plan = { id: '1', task: { name: 't', config: { params: { A: '((in-plan))' } } } };
    const gone = await recoveryRedaction({
      db: database.db,
      credentials: secrets,
      build: { teamName: 'main', pipelineId: 987_654, plan },
    });
    expect(gone).toEqual({
      kind: 'withheld',
      reason: 'its secrets could not be resolved: pipeline 987654 of the build is gone or archived',
    });
    const loaded = await recoveryRedaction({
      db: database.db,
      credentials: secrets,
      build: {
        teamName: 'main',
        pipelineId: null,
        plan: { do: [plan, { id: '2', load_var: { name: 'v', file: 'a/v' } }] },
      },
    });
    expect(loaded.kind).toBe('withheld');
  });

  it('without refs nothing needs resolving: an unreachable manager does not withhold', async () => {
    const failing: CredentialManager = {
      lookup: async () => {
        throw new Error('down');
      },
    };
    const build = await oneOffBuild({ id: '1', task: { name: 't', config: { run: { path: 'true' } } } });
    const redaction = await recoveryRedaction({
      db: database.db,
      credentials: failing,
      build,
      recordedRefs: [],
    });
    expect(redaction.kind).toBe('redact');
  });
});
