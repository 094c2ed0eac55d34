// Input resolution at scale, in a real (embedded) PostgreSQL: five resources with 10,000 versions each, five
// upstream jobs with 10,000 builds each (every build got one version of each resource: 50,000 builds, 250,000
// recorded inputs), and downstream jobs whose inputs have `passed` constraints on all five. The upstream jobs
// lag and fail differently, so the newest versions that went through all five are a few hundred builds deep.
//
// Figures (median of several runs, after a warm-up):
// - one input `passed: [a1…a5]`;
// - five inputs, each `passed: [a1…a5]`: the versions must come from the same build of every upstream job;
// - a full scheduling pass of that job (resolve, save the next-build inputs, decide about builds);
// - both resolutions again after the upstream jobs failed for a long while (2,000 builds to walk past).
import { performance } from 'node:perf_hooks';
import {
  connectDatabase,
  findOrCreateResourceConfig,
  findOrCreateResourceConfigScope,
  listAlgorithmInputs,
  migrateToLatest,
  savePipeline,
  setResourceConfigScope,
  sql,
} from '../packages/db/dist/index.js';
import { startTestPostgres } from '../packages/db/dist/testing.js';
import { computeInputs, JobScheduler } from '../packages/scheduler/dist/index.js';

const VERSIONS = 10_000;
const RESOURCES = ['r1', 'r2', 'r3', 'r4', 'r5'];
const UPSTREAM = ['a1', 'a2', 'a3', 'a4', 'a5'];
const RUNS = 15;
const TARGET_MS = 100;

function figure(name, value, target) {
  process.stdout.write(`BENCH-FIGURE ${JSON.stringify({ figure: name, value, target })}\n`);
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function job(name, inputs, config = { name, plan: [] }) {
  return {
    name,
    config,
    public: false,
    maxInFlight: 0,
    disableManualTrigger: false,
    disableReruns: false,
    interruptible: false,
    serialGroups: [],
    groups: [],
    inputs,
    outputs: [],
  };
}

const postgres = await startTestPostgres();
const { db, close } = connectDatabase(postgres.connection);
try {
  await migrateToLatest(db);
  const team = await db
    .insertInto('teams')
    .values({ name: 'bench', auth: '{}' })
    .returning('id')
    .executeTakeFirstOrThrow();
  const get = (resource, passedJobs = [], trigger = false) => ({
    name: resource,
    resource,
    passedJobs,
    trigger,
    version: null,
  });
  const { pipeline } = await savePipeline(db, {
    teamId: team.id,
    name: 'bench',
    instanceVars: null,
    fromVersion: 0,
    initiallyPaused: false,
    config: {
      config: {},
      groups: null,
      display: null,
      userData: null,
      resources: RESOURCES.map((name) => ({
        name,
        type: 'git',
        config: { name, type: 'git', source: { uri: name } },
        public: false,
        checkEvery: null,
        webhookToken: null,
        pinnedVersion: null,
      })),
      resourceTypes: [],
      jobs: [
        ...UPSTREAM.map((name) =>
          job(
            name,
            RESOURCES.map((r) => get(r, [], true)),
          ),
        ),
        job('one-input', [get('r1', UPSTREAM, true)]),
        job(
          'five-inputs',
          RESOURCES.map((r) => get(r, UPSTREAM, true)),
        ),
      ],
    },
  });

  const started = performance.now();
  const resources = await db
    .selectFrom('resources')
    .select(['id', 'name'])
    .where('pipeline_id', '=', pipeline.id)
    .execute();
  for (const resource of resources) {
    const configId = await findOrCreateResourceConfig(db, 'git', { uri: resource.name });
    const scopeId = await findOrCreateResourceConfigScope(db, configId, resource.id);
    await setResourceConfigScope(db, resource.id, configId, scopeId);
    // Versions {"ref":"<resource>-<t>"}, check order t; the digest is the one versionSha256 computes.
    await sql`
      insert into resource_config_versions (resource_config_scope_id, version, version_sha256, check_order)
      select ${scopeId}, jsonb_build_object('ref', ${resource.name} || '-' || t),
        encode(sha256(convert_to('{"ref":"' || ${resource.name} || '-' || t || '"}', 'UTF8')), 'hex'), t
      from generate_series(1, ${VERSIONS}) t`.execute(db);
  }
  // Build t of upstream job k used version t of every resource. a_k has not succeeded its newest 20·k builds
  // (still failing), and each build t fails in job 1 + t mod 7 when t mod 7 < 5 and t mod 11 = 0.
  const jobs = await db
    .selectFrom('jobs')
    .select(['id', 'name'])
    .where('pipeline_id', '=', pipeline.id)
    .execute();
  const upstream = jobs.filter((j) => UPSTREAM.includes(j.name)).sort((a, b) => a.name.localeCompare(b.name));
  const upstreamIds = upstream.map((j) => j.id);
  await sql`
    insert into builds (name, team_id, pipeline_id, job_id, status, inputs_ready, start_time, end_time)
    select t::text, ${team.id}, ${pipeline.id}, (${sql.val(upstreamIds)}::int[])[k],
      case when t > ${VERSIONS} - 20 * k then 'failed'
           when t % 11 = 0 and t % 7 < 5 and 1 + t % 7 = k then 'failed'
           else 'succeeded' end,
      true, now(), now()
    from generate_series(1, ${VERSIONS}) g(t) cross join generate_series(1, ${UPSTREAM.length}) h(k)
    order by g.t, h.k`.execute(db);
  await sql`
    insert into build_resource_config_version_inputs (build_id, resource_id, version_sha256, name, first_occurrence)
    select b.id, r.id, encode(sha256(convert_to('{"ref":"' || r.name || '-' || b.name || '"}', 'UTF8')), 'hex'), r.name, false
    from builds b join resources r on r.pipeline_id = b.pipeline_id
    where b.job_id = any(${sql.val(upstreamIds)}::int[])`.execute(db);
  await sql`update jobs set next_build_number = ${VERSIONS + 1} where id = any(${sql.val(upstreamIds)}::int[])`.execute(
    db,
  );
  // A steady-state database: statistics current, visibility maps set (autovacuum's doing in production).
  await sql`vacuum analyze`.execute(db);
  const counts = await sql`
    select (select count(*) from builds) as builds, (select count(*) from build_resource_config_version_inputs) as inputs,
      (select count(*) from resource_config_versions) as versions`.execute(db);
  process.stdout.write(
    `history: ${JSON.stringify(counts.rows[0])} in ${Math.round(performance.now() - started)} ms\n`,
  );

  const jobId = (name) => jobs.find((j) => j.name === name).id;
  const measure = async (label, run) => {
    await run();
    const times = [];
    let last;
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      last = await run();
      times.push(performance.now() - t0);
    }
    process.stdout.write(
      `${label}: min ${Math.min(...times).toFixed(1)} ms, max ${Math.max(...times).toFixed(1)} ms\n`,
    );
    return { ms: median(times), last };
  };
  const resolve = async (name) => {
    const id = jobId(name);
    return computeInputs(db, id, await listAlgorithmInputs(db, id));
  };
  const describe = async (computed) => {
    const shas = computed.entries.map((e) => e.versionSha256);
    const { rows } =
      await sql`select version->>'ref' as ref from resource_config_versions where version_sha256 = any(${sql.val(shas)}::text[])`.execute(
        db,
      );
    return rows
      .map((r) => r.ref)
      .sort()
      .join(', ');
  };

  const one = await measure('one input, passed 5 jobs', () => resolve('one-input'));
  if (!one.last.resolved) throw new Error('one-input did not resolve');
  process.stdout.write(`  chose ${await describe(one.last)}\n`);
  figure(
    'scheduler: resolve 1 input passed by 5 jobs, 10k versions (median ms)',
    one.ms.toFixed(1),
    `< ${TARGET_MS}`,
  );

  const five = await measure('five inputs, each passed 5 jobs', () => resolve('five-inputs'));
  if (!five.last.resolved) throw new Error('five-inputs did not resolve');
  process.stdout.write(`  chose ${await describe(five.last)}\n`);
  figure(
    'scheduler: resolve 5 inputs x 5 passed jobs, 10k versions each (median ms)',
    five.ms.toFixed(1),
    `< ${TARGET_MS}`,
  );

  // Scheduling passes: the starter leaves builds pending, so each pass resolves, saves and decides again.
  const scheduler = new JobScheduler({
    db,
    starter: { startBuild: async () => ({ started: false, reason: 'bench', errored: false }) },
  });
  const pass = await measure('scheduling pass', () => scheduler.scheduleJob(jobId('five-inputs')));
  figure('scheduler: full scheduling pass of that job (median ms)', pass.ms.toFixed(1), '-');

  // A bad week upstream: a_k has been failing for its last 400·k builds, so the newest versions that went
  // through all five are 2,000 builds deep, and each build walked past is judged against the other jobs.
  await sql`
    update builds set status = 'failed'
    where job_id = any(${sql.val(upstreamIds)}::int[])
      and name::integer > ${VERSIONS} - 400 * array_position(${sql.val(upstreamIds)}::int[], job_id)`.execute(
    db,
  );
  await sql`vacuum analyze builds`.execute(db);
  const deepOne = await measure('deep: one input', () => resolve('one-input'));
  process.stdout.write(`  chose ${await describe(deepOne.last)}\n`);
  figure(
    'scheduler: same, 1 input, newest common version 2,000 builds deep (median ms)',
    deepOne.ms.toFixed(1),
    '-',
  );
  const deepFive = await measure('deep: five inputs', () => resolve('five-inputs'));
  process.stdout.write(`  chose ${await describe(deepFive.last)}\n`);
  figure('scheduler: same, 5 inputs x 5 jobs, 2,000 builds deep (median ms)', deepFive.ms.toFixed(1), '-');
} finally {
  await close();
  await postgres.destroy();
}
