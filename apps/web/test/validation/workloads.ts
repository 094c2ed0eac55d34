// The builds the load, fault and soak tests drive, over real HTTP as fly drives them: a pipeline of jobs each
// doing get → task → put, and `fly execute` one-offs with an uploaded input and a downloaded output.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  authHeaders,
  createBuild,
  executePlan,
  extractTarGz,
  logText,
  readBuildEvents,
  statusesOf,
  tarGzOf,
  uploadArtifact,
  type EnvelopeEvent,
} from '../execute-client.js';
import { call, pipelineUrl, setPipeline } from '../pipeline-client.js';
import { until } from './census.js';

export const FINISHED_STATUSES = ['succeeded', 'failed', 'errored', 'aborted'];

export interface BuildJson {
  id: number;
  name: string;
  status: string;
  job_name?: string;
}

/**
 * `jobs` jobs, each: get the `source` version, a task that derives a file from it, a put of that file to
 * the shared `artifact` resource (so puts save versions concurrently), and the put's implicit get. The task
 * sleeps `taskSeconds` so builds overlap.
 */
export function chainPipelineYaml(jobs: number, taskSeconds = 0): string {
  const lines = [
    'resources:',
    '- name: source',
    '  type: mock',
    '  check_every: never',
    '  source: {initial_version: v1}',
    '- name: artifact',
    '  type: mock',
    '  check_every: never',
    '  source: {no_initial_version: true}',
    'jobs:',
  ];
  for (let i = 0; i < jobs; i++) {
    lines.push(
      `- name: job-${i}`,
      '  plan:',
      '  - get: source',
      '  - task: derive',
      '    config:',
      '      platform: linux',
      '      inputs: [{name: source}]',
      '      outputs: [{name: built}]',
      '      run:',
      '        path: sh',
      `        args: [-ec, 'sleep ${taskSeconds}; printf "%s-job-${i}" "$(cat source/version)" > built/version']`,
      '  - put: artifact',
      '    params: {file: built/version}',
    );
  }
  return lines.join('\n') + '\n';
}

/** Set and unpause `pipeline`, then check `source` once so every job has its input. */
export async function setChainPipeline(
  url: string,
  token: string,
  pipeline: string,
  jobs: number,
  taskSeconds = 0,
): Promise<void> {
  await setPipeline(url, token, 'main', pipeline, chainPipelineYaml(jobs, taskSeconds));
  const unpaused = await call(pipelineUrl(url, 'main', pipeline, '/unpause'), token, 'PUT');
  if (unpaused.status !== 200) throw new Error(`unpause: ${unpaused.status} ${unpaused.text}`);
  const check = await call(pipelineUrl(url, 'main', pipeline, '/resources/source/check'), token, 'POST', {
    from: null,
  });
  if (check.status !== 201 && check.status !== 200) throw new Error(`check: ${check.status} ${check.text}`);
  const checked = await waitForBuild(url, token, check.json<{ id: number }>().id, 60_000);
  if (checked.status !== 'succeeded') throw new Error(`check of source ${checked.status}`);
}

/** `fly trigger-job`: the created (pending) build. */
export async function triggerJob(
  url: string,
  token: string,
  pipeline: string,
  job: string,
): Promise<BuildJson> {
  const reply = await call(pipelineUrl(url, 'main', pipeline, `/jobs/${job}/builds`), token, 'POST');
  if (reply.status !== 200) throw new Error(`trigger ${job}: ${reply.status} ${reply.text}`);
  return reply.json<BuildJson>();
}

export async function getBuild(url: string, token: string, buildId: number): Promise<BuildJson> {
  const reply = await call(`${url}/api/v1/builds/${buildId}`, token);
  if (reply.status !== 200) throw new Error(`build ${buildId}: ${reply.status} ${reply.text}`);
  return reply.json<BuildJson>();
}

export async function waitForBuild(
  url: string,
  token: string,
  buildId: number,
  timeoutMs = 120_000,
): Promise<BuildJson> {
  return until(
    `build ${buildId} to finish`,
    async () => {
      const build = await getBuild(url, token, buildId);
      return FINISHED_STATUSES.includes(build.status) ? build : undefined;
    },
    timeoutMs,
    300,
  );
}

/** Trigger `job` and follow its events to the end, as `fly trigger-job -w` does. */
export async function runChainJob(
  url: string,
  token: string,
  pipeline: string,
  job: string,
  /** Told where the run stands (for a stalled test's progress report). */
  stage: (what: string) => void = () => undefined,
): Promise<{
  build: BuildJson;
  events: EnvelopeEvent[];
  outputs: Array<{ name: string; version: unknown }>;
}> {
  stage('triggering');
  const created = await triggerJob(url, token, pipeline, job);
  let seen = 0;
  stage(`build ${created.id}: reading events`);
  const { events } = await readBuildEvents(url, token, created.id, {
    onEvent: (event) => stage(`build ${created.id}: reading events (${++seen}, last ${event.event})`),
  });
  stage(`build ${created.id}: waiting for a final status`);
  const build = await waitForBuild(url, token, created.id);
  stage(`build ${created.id}: reading resources`);
  const resources = (await call(`${url}/api/v1/builds/${created.id}/resources`, token)).json<{
    outputs: Array<{ name: string; version: unknown }>;
  }>();
  return { build, events, outputs: resources.outputs };
}

/**
 * One `fly execute -c task.yml -i input=<dir> -o output=<dir>`: upload a directory holding `marker`, run a
 * task copying it to its output with a line of its own, follow the events, download the output and return
 * what it holds.
 */
export async function runExecute(
  url: string,
  token: string,
  scratch: string,
  marker: string,
  options: {
    taskSeconds?: number;
    /** Run instead of copying the marker (the output is then not downloaded unless the build succeeds). */
    taskScript?: string;
    onEvent?: (event: EnvelopeEvent) => void | Promise<void>;
    /** Told where the run stands (for a stalled test's progress report). */
    stage?: (what: string) => void;
  } = {},
): Promise<{ buildId: number; statuses: string[]; output: string; log: string; events: EnvelopeEvent[] }> {
  const stage = options.stage ?? (() => undefined);
  const dir = await mkdtemp(path.join(scratch, 'exec-'));
  try {
    const inputDir = path.join(dir, 'input');
    const outputDir = path.join(dir, 'output');
    await mkdir(inputDir);
    await mkdir(outputDir);
    await writeFile(path.join(inputDir, 'marker'), marker);
    stage('uploading the input');
    const upload = await uploadArtifact(url, token, 'main', tarGzOf(inputDir));
    if (upload.status !== 201) throw new Error(`upload: ${upload.status} ${await upload.text()}`);
    const artifact = (await upload.json()) as { id: number };
    stage('creating the build');
    const plan = executePlan(
      {
        platform: 'linux',
        inputs: [{ name: 'input' }],
        outputs: [{ name: 'output' }],
        run: {
          path: 'sh',
          args: [
            '-ec',
            options.taskScript ??
              `sleep ${options.taskSeconds ?? 0}; cp input/marker output/marker; echo ran >> output/marker`,
          ],
        },
      },
      [{ name: 'input', artifactId: artifact.id }],
      ['output'],
    );
    const created = await createBuild(url, token, 'main', plan);
    if (created.status !== 201) throw new Error(`create build: ${created.status} ${await created.text()}`);
    const build = (await created.json()) as { id: number };
    let seen = 0;
    stage(`build ${build.id}: reading events`);
    const { events } = await readBuildEvents(url, token, build.id, {
      onEvent: async (event) => {
        stage(`build ${build.id}: reading events (${++seen}, last ${event.event})`);
        await options.onEvent?.(event);
      },
    });
    const statuses = statusesOf(events);
    let output = '';
    if (statuses.at(-1) === 'succeeded' && options.taskScript === undefined) {
      stage(`build ${build.id}: downloading the output`);
      const listed = await fetch(`${url}/api/v1/builds/${build.id}/artifacts`, {
        headers: authHeaders(token),
      });
      const artifacts = (await listed.json()) as Array<{ id: number; name: string }>;
      const produced = artifacts.find((a) => a.name === 'output');
      if (produced === undefined) throw new Error(`build ${build.id} registered no output`);
      const download = await fetch(`${url}/api/v1/teams/main/artifacts/${produced.id}`, {
        headers: authHeaders(token),
      });
      if (download.status !== 200) throw new Error(`download: ${download.status}`);
      await extractTarGz(download, outputDir);
      output = await readFile(path.join(outputDir, 'marker'), 'utf8');
    }
    return { buildId: build.id, statuses, output, log: logText(events), events };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
