import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Container } from '@jetbridge/runtime';
import { REDACTED } from '../redactor.js';
import {
  filesOf,
  isAlive,
  run,
  shTask,
  startWorld,
  uploadArtifact,
  RecordingSink,
  type TestWorld,
} from '../test-fixtures.js';
import { taskWorkingDirectory } from './task-step.js';

let world: TestWorld;
beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  await world.close();
});

/** do[ artifact_input(id as name), task ] — the shape fly execute posts, without outputs. */
function withInput(artifactId: number, name: string, task: ReturnType<typeof shTask>) {
  return { id: 'root', do: [{ id: 'in', artifact_input: { artifact_id: artifactId, name } }, task] };
}

describe('task step', () => {
  it('runs a task with an input and an output: files land in the output volume', async () => {
    await uploadArtifact(world, 1, { 'greeting.txt': 'hello', 'sub/dir.txt': 'nested' });
    const containers: Container[] = [];
    const { outcome, sink } = await run(
      world,
      {
        id: 'root',
        ensure: {
          step: withInput(
            1,
            'src',
            shTask(
              't',
              'cat src/greeting.txt; echo; cp src/greeting.txt out/copy.txt; echo "$GREETING" > out/env.txt; pwd',
              {
                inputs: [{ name: 'src' }],
                outputs: [{ name: 'out' }],
                params: { GREETING: 'from config' },
              },
            ),
          ),
          ensure: { id: 'publish', artifact_output: { name: 'out' } },
        },
      },
      { onContainerDone: (c) => void containers.push(c) },
    );

    expect(outcome).toBe('succeeded');
    expect(sink.trail()).toEqual([
      'initialize-task:t',
      'selected-worker:t',
      'start-task:t',
      ...sink.trail().filter((e) => e === 'log:t'),
      'finish-task:t',
    ]);
    expect(sink.logOf('t', 'stdout')).toMatch(new RegExp(`^hello\n.*${taskWorkingDirectory('t')}\n$`));
    const finish = sink.events.find((e) => e.event === 'finish-task');
    expect(finish).toEqual({
      event: 'finish-task',
      version: '4.0',
      data: { time: expect.any(Number), exit_status: 0, origin: { id: 't' } },
    });
    const start = sink.events.find((e) => e.event === 'start-task');
    expect(start?.version).toBe('5.0');
    expect(start?.data['config']).toEqual({
      platform: 'linux',
      image: '',
      run: { path: 'sh', args: ['-c', expect.stringContaining('cat src/greeting.txt')], dir: '' },
      inputs: [{ name: 'src', path: '' }],
    });
    expect(sink.events.find((e) => e.event === 'initialize-task')?.version).toBe('4.0');
    expect(sink.events.find((e) => e.event === 'selected-worker')?.data).toEqual({
      time: expect.any(Number),
      origin: { id: 't' },
      selected_worker: 'local-test',
    });

    const [published] = world.catalog.outputs;
    expect(published).toEqual({ buildId: 42, name: 'out', volumeHandle: expect.any(String) });
    const volume = await world.worker.lookupVolume(published?.volumeHandle ?? '');
    expect(volume).toBeDefined();
    expect(await filesOf(volume!)).toEqual({ 'copy.txt': 'hello', 'env.txt': 'from config\n' });
    const volumeInfo = (await world.worker.listVolumes()).find((v) => v.handle === volume!.handle);
    expect(volumeInfo?.owner).toEqual({ kind: 'step', buildId: 42, stepName: 't' });

    expect(containers).toHaveLength(1);
    expect(containers[0]?.metadata).toMatchObject({
      type: 'task',
      stepName: 't',
      buildId: 42,
      buildName: '42',
      teamName: 'main',
      workingDirectory: taskWorkingDirectory('t'),
    });
    await containers[0]?.destroy();
  });

  it('fails with the exit status when the task exits non-zero, and destroys its container at the end', async () => {
    const { outcome, sink } = await run(world, shTask('t', 'echo to stderr >&2; exit 3'));
    expect(outcome).toBe('failed');
    expect(sink.events.at(-1)).toEqual({
      event: 'finish-task',
      version: '4.0',
      data: { time: expect.any(Number), exit_status: 3, origin: { id: 't' } },
    });
    expect(sink.logOf('t', 'stderr')).toBe('to stderr\n');
    expect(sink.logOf('t', 'stdout')).toBe('');
    expect(await world.worker.listContainers()).toEqual([]);
  });

  it('errors on an invalid config with an error event and no task events', async () => {
    const { outcome, sink } = await run(world, shTask('t', 'true', { platform: '' }));
    expect(outcome).toBe('errored');
    expect(sink.events).toEqual([
      {
        event: 'error',
        version: '4.1',
        data: {
          message: "failed to create task config from bytes: invalid task configuration:\nmissing 'platform'",
          origin: { id: 't' },
          time: expect.any(Number),
        },
      },
    ]);
  });

  it('errors when a required input is missing, naming it after input_mapping; optional ones are skipped', async () => {
    const { outcome, sink } = await run(
      world,
      shTask(
        't',
        'true',
        { inputs: [{ name: 'a' }, { name: 'b' }, { name: 'c', optional: true }] },
        { input_mapping: { b: 'mapped-b' } },
      ),
    );
    expect(outcome).toBe('errored');
    expect(sink.trail()).toEqual(['initialize-task:t', 'error:t']);
    expect(sink.errorsOf('t')).toEqual(['missing inputs: a, mapped-b']);
  });

  it('errors when the executable does not exist', async () => {
    const plan = shTask('t', '');
    if (!('task' in plan) || plan.task.config === undefined) throw new Error('task');
    plan.task.config.run = { path: 'definitely-not-a-command-xyz' };
    const { outcome, sink } = await run(world, plan);
    expect(outcome).toBe('errored');
    expect(sink.trail()).toEqual(['initialize-task:t', 'selected-worker:t', 'start-task:t', 'error:t']);
    expect(sink.errorsOf('t')[0]).toContain('definitely-not-a-command-xyz');
    expect(await world.worker.listContainers()).toEqual([]);
  });

  it("errors with Concourse's messages when there is nothing to run or the image artifact is missing", async () => {
    const noPath = shTask('t', '');
    if (!('task' in noPath) || noPath.task.config === undefined) throw new Error('task');
    noPath.task.config.run = { path: '' };
    let result = await run(world, noPath);
    expect(result.outcome).toBe('errored');
    expect(result.sink.errorsOf('t')).toEqual([
      'No executable defined for task. Specify an executable to run in either the task config (run.path) or as an ENTRYPOINT/CMD in the container image.',
    ]);

    result = await run(world, shTask('t', 'true', {}, { image: 'my-image' }));
    expect(result.outcome).toBe('errored');
    expect(result.sink.trail()).toEqual(['initialize-task:t', 'error:t']);
    expect(result.sink.errorsOf('t')[0]).toMatch(/^missing image artifact source: my-image\n/);
  });

  it('reads config_path from an artifact, with step params, input_mapping and output_mapping', async () => {
    await uploadArtifact(world, 2, {
      'ci/task.yml': [
        'platform: linux',
        'params: {WHO: config, KEEP: kept, FLAG: yes}',
        'inputs: [{name: repo, path: code}]',
        'outputs: [{name: result}]',
        'run:',
        '  path: sh',
        '  args: [-c, "cat code/ci/task.yml > /dev/null && echo $WHO $KEEP $FLAG > result/out.txt"]',
      ].join('\n'),
    });
    const { outcome, sink } = await run(world, {
      id: 'root',
      do: [
        { id: 'in', artifact_input: { artifact_id: 2, name: 'source' } },
        {
          id: 't',
          task: {
            name: 'from-file',
            privileged: false,
            hermetic: false,
            config_path: 'source/ci/task.yml',
            params: { WHO: 'step' },
            input_mapping: { repo: 'source' },
            output_mapping: { result: 'renamed' },
          },
        },
        { id: 'out', artifact_output: { name: 'renamed' } },
      ],
    });
    expect(sink.errorsOf('t')).toEqual([]);
    expect(outcome).toBe('succeeded');
    const output = world.catalog.outputs.find((o) => o.name === 'renamed');
    const volume = await world.worker.lookupVolume(output?.volumeHandle ?? '');
    expect(await filesOf(volume!)).toEqual({ 'out.txt': 'step kept true\n' });
    expect(sink.events.find((e) => e.event === 'initialize-task')?.data['config']).toMatchObject({
      inputs: [{ name: 'repo', path: 'code' }],
    });
  });

  it("errors with Concourse's messages when config_path cannot be read", async () => {
    await uploadArtifact(world, 3, { 'bad.yml': 'platform: linux\nouputs: []\nrun: {path: sh}\n' });
    const attempt = async (configPath: string): Promise<string[]> => {
      const { outcome, sink } = await run(world, {
        id: 'root',
        do: [
          { id: 'in', artifact_input: { artifact_id: 3, name: 'src' } },
          { id: 't', task: { name: 't', privileged: false, hermetic: false, config_path: configPath } },
        ],
      });
      expect(outcome).toBe('errored');
      return sink.errorsOf('t');
    };
    expect(await attempt('src/missing.yml')).toEqual(["task config 'src/missing.yml' not found"]);
    expect(await attempt('other/task.yml')).toEqual([
      "unknown artifact source: 'other' in file path 'other/task.yml'",
    ]);
    expect(await attempt('task.yml')).toEqual([
      "config path 'task.yml' does not specify where the file lives",
    ]);
    expect(await attempt('src/bad.yml')).toEqual([
      'failed to create task config from bytes src/bad.yml: unknown fields: [ouputs]',
    ]);
  });

  it('kills the process on abort: aborted, an "interrupted" error, no finish-task, the process is gone', async () => {
    const pidFile = path.join(world.dir, 'abort.pid');
    const controller = new AbortController();
    const sink = new RecordingSink();
    const running = run(world, shTask('t', `echo $$ > ${pidFile}; echo started; exec sleep 60`), {
      events: sink,
      signal: controller.signal,
    });
    await sink.waitFor((e) => e.event === 'log' && String(e.data['payload']).includes('started'));
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    expect(isAlive(pid)).toBe(true);
    const abortedAt = Date.now();
    controller.abort();
    const { outcome } = await running;
    expect(outcome).toBe('aborted');
    expect(Date.now() - abortedAt).toBeLessThan(5000);
    expect(isAlive(pid)).toBe(false);
    expect(sink.trail().filter((e) => !e.startsWith('log:'))).toEqual([
      'initialize-task:t',
      'selected-worker:t',
      'start-task:t',
      'error:t',
    ]);
    expect(sink.errorsOf('t')).toEqual(['interrupted']);
  });

  it('fails on the task\'s own timeout with a "timeout exceeded" error', async () => {
    const started = Date.now();
    const { outcome, sink } = await run(world, shTask('t', 'sleep 60', {}, { timeout: '500ms' }));
    expect(outcome).toBe('failed');
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(sink.errorsOf('t')).toEqual(['timeout exceeded']);
    expect(sink.events.some((e) => e.event === 'finish-task')).toBe(false);
  });

  it('redacts secrets in logs, also when written across chunks, and in the command shown by task events', async () => {
    const secret = 'hunter2-Sup3r';
    const { outcome, sink } = await run(
      world,
      shTask(
        't',
        `printf 'pw: hunt'; sleep 0.3; printf 'er2-Su'; sleep 0.3; printf 'p3r ok\\n'; echo "${secret}" >&2; echo done`,
      ),
      { redact: [secret], partialLineFlushMs: 100 },
    );
    expect(outcome).toBe('succeeded');
    expect(sink.logOf('t', 'stdout')).toBe(`pw: ${REDACTED} ok\ndone\n`);
    expect(sink.logOf('t', 'stderr')).toBe(`${REDACTED}\n`);
    // The partial line "pw: " was shown before the line ended, but no piece of the secret ever was.
    const stdoutPayloads = sink.events.filter((e) => e.event === 'log').map((e) => String(e.data['payload']));
    expect(stdoutPayloads.some((p) => p === 'pw: ')).toBe(true);
    for (const payload of stdoutPayloads) expect(payload).not.toMatch(/hunt|Su|p3r/);
    const start = sink.events.find((e) => e.event === 'start-task');
    expect(JSON.stringify(start)).not.toContain(secret);
    expect(JSON.stringify(start)).toContain(REDACTED);
  });

  it('streams multi-byte characters written a byte at a time without mangling them', async () => {
    const { outcome, sink } = await run(
      world,
      shTask('t', "printf '\\303'; sleep 0.2; printf '\\251t\\342\\234'; sleep 0.2; printf '\\223\\n'"),
      {
        partialLineFlushMs: 50,
      },
    );
    expect(outcome).toBe('succeeded');
    expect(sink.logOf('t', 'stdout')).toBe('ét✓\n');
    for (const e of sink.events) expect(String(e.data['payload'] ?? '')).not.toContain('\uFFFD');
  });

  it('lets a task change its inputs without changing the artifacts later steps see', async () => {
    const upload = await uploadArtifact(world, 11, { 'a.txt': 'original\n', 'gone.txt': 'gone\n' });
    const { outcome, sink } = await run(world, {
      id: 'root',
      do: [
        { id: 'in', artifact_input: { artifact_id: 11, name: 'repo' } },
        shTask(
          'change',
          'echo changed > repo/a.txt && rm repo/gone.txt && echo new > repo/new.txt && cat repo/a.txt && ls repo',
          { inputs: [{ name: 'repo' }] },
        ),
        // A later task in the same build, and one taking the same artifact under another name.
        shTask('later', 'cat repo/a.txt repo/gone.txt && ls repo', { inputs: [{ name: 'repo' }] }),
        shTask(
          'renamed',
          'cat src/a.txt && ls src',
          { inputs: [{ name: 'src' }] },
          { input_mapping: { src: 'repo' } },
        ),
      ],
    });
    expect(outcome).toBe('succeeded');
    // The task sees its own changes, as in Concourse's copy-on-write inputs.
    expect(sink.logOf('change', 'stdout')).toBe('changed\na.txt\nnew.txt\n');
    expect(sink.logOf('later', 'stdout')).toBe('original\ngone\na.txt\ngone.txt\n');
    expect(sink.logOf('renamed', 'stdout')).toBe('original\na.txt\ngone.txt\n');
    expect(await filesOf(upload)).toEqual({ 'a.txt': 'original\n', 'gone.txt': 'gone\n' });
  });

  it("leaves a get's artifact as fetched for a second task when the first changes it", async () => {
    const { outcome, sink } = await run(world, {
      id: 'root',
      do: [
        {
          id: 'g',
          get: {
            name: 'repo',
            type: 'mock',
            image: {},
            version: { version: 'v1' },
            source: { create_files: { 'hello.txt': 'fetched' } },
          },
        },
        shTask('first', 'echo changed > repo/hello.txt && rm repo/version && cat repo/hello.txt', {
          inputs: [{ name: 'repo' }],
        }),
        shTask('second', 'cat repo/hello.txt; echo; cat repo/version', { inputs: [{ name: 'repo' }] }),
      ],
    });
    expect(outcome).toBe('succeeded');
    expect(sink.logOf('first', 'stdout')).toBe('changed\n');
    expect(sink.logOf('second', 'stdout')).toBe('fetched\nv1\n');
  });

  it("carries a pass-through output's changes (output named as its input) to later steps, leaving the input artifact", async () => {
    const upload = await uploadArtifact(world, 12, { 'a.txt': 'original\n', 'keep.txt': 'kept\n' });
    const { outcome, sink } = await run(world, {
      id: 'root',
      do: [
        { id: 'in', artifact_input: { artifact_id: 12, name: 'repo' } },
        shTask('bump', 'echo changed > repo/a.txt && echo added > repo/b.txt', {
          inputs: [{ name: 'repo' }],
          outputs: [{ name: 'repo' }],
        }),
        shTask('after', 'cat repo/a.txt repo/b.txt repo/keep.txt', { inputs: [{ name: 'repo' }] }),
        { id: 'out', artifact_output: { name: 'repo' } },
      ],
    });
    expect(outcome).toBe('succeeded');
    expect(sink.logOf('after', 'stdout')).toBe('changed\nadded\nkept\n');
    const output = world.catalog.outputs.find((o) => o.name === 'repo' && o.volumeHandle !== upload.handle);
    expect(await filesOf((await world.worker.lookupVolume(output!.volumeHandle))!)).toEqual({
      'a.txt': 'changed\n',
      'b.txt': 'added\n',
      'keep.txt': 'kept\n',
    });
    expect(await filesOf(upload)).toEqual({ 'a.txt': 'original\n', 'keep.txt': 'kept\n' });
  });

  it("starts an output at the same path as an input from the input's contents", async () => {
    await uploadArtifact(world, 4, { 'a.txt': 'from input' });
    const { outcome } = await run(world, {
      id: 'root',
      do: [
        { id: 'in', artifact_input: { artifact_id: 4, name: 'repo' } },
        shTask('t', 'echo added > repo/b.txt', {
          inputs: [{ name: 'repo' }],
          outputs: [{ name: 'repo-out', path: 'repo' }],
        }),
        { id: 'out', artifact_output: { name: 'repo-out' } },
      ],
    });
    expect(outcome).toBe('succeeded');
    const output = world.catalog.outputs.find((o) => o.name === 'repo-out');
    expect(await filesOf((await world.worker.lookupVolume(output!.volumeHandle))!)).toEqual({
      'a.txt': 'from input',
      'b.txt': 'added\n',
    });
  });
});
