import { describe, expect, it } from '@jest/globals';
import { ArtifactStore } from '@jetbridge/artifact-store';
import { resolveConfig } from '../config.js';
import { buildStepPod } from './step-pod.js';
import { outsideRoots, streamLocation } from './stream-layout.js';

const workDir = '/tmp/build/abcd1234';

/** A task's step pod in stream mode (no claim), with the paths streamed in or created given. */
function streamStepPod(paths: { streamedPaths: string[]; createdPaths?: string[] }) {
  const config = resolveConfig({
    namespace: 'ci',
    artifacts: { mode: 'stream' },
    artifactStore: new ArtifactStore({ root: '/nonexistent/store' }),
    helperImage: 'helper:1',
  });
  return buildStepPod(
    {
      spec: { handle: 'h1', env: {}, mounts: [], metadata: { type: 'task', teamName: 'main' } },
      podName: 'jb-task-0123456789',
      labels: {},
      annotations: {},
      workDir,
      mounts: [],
      ...paths,
    },
    config,
  );
}

describe('stream-mode pod layout', () => {
  it('places paths in the workspace, or in an emptyDir of their own outside it (nested ones share it)', () => {
    const paths = [`${workDir}/src`, '/opt/cache/inner', '/opt/cache', '/var/out', `${workDir}`];
    const roots = outsideRoots(workDir, paths);
    expect(roots).toEqual(['/opt/cache', '/var/out']);
    expect(streamLocation(workDir, `${workDir}/src`, roots)).toEqual({ dir: workDir, relative: 'src' });
    expect(streamLocation(workDir, workDir, roots)).toEqual({ dir: workDir, relative: '.' });
    expect(streamLocation(workDir, '/opt/cache/inner', roots)).toEqual({
      dir: '/opt/cache',
      relative: 'inner',
    });
    expect(streamLocation(workDir, '/var/out', roots)).toEqual({ dir: '/var/out', relative: '.' });
  });

  it('builds a pod with no claim: emptyDirs only, an init container that installs the helper and copies nothing', () => {
    const pod = streamStepPod({ streamedPaths: [`${workDir}/src`, '/var/out'] });
    expect(pod.spec.volumes).toEqual([
      { name: 'jetbridge', emptyDir: {} },
      { name: 'workspace', emptyDir: {} },
      { name: 'streamed-0', emptyDir: {} },
    ]);
    expect(pod.spec.initContainers?.[0]?.command).toEqual([
      '/jetbridge-helper',
      'copy',
      '--to=/.jetbridge/bin/jetbridge-helper',
    ]);
    expect(pod.spec.initContainers?.[0]?.volumeMounts).toEqual([
      { name: 'jetbridge', mountPath: '/.jetbridge' },
    ]);
    expect(pod.spec.containers[0]?.volumeMounts).toEqual([
      { name: 'jetbridge', mountPath: '/.jetbridge' },
      { name: 'workspace', mountPath: workDir },
      { name: 'streamed-0', mountPath: '/var/out' },
    ]);
  });

  it('lets the init container create empty outputs (no transfer), with the step’s emptyDirs mounted', () => {
    const pod = streamStepPod({
      streamedPaths: [`${workDir}/src`],
      createdPaths: [`${workDir}/out`, '/var/out'],
    });
    const init = pod.spec.initContainers?.[0];
    expect(init?.command).toEqual([
      '/jetbridge-helper',
      'copy',
      '--to=/.jetbridge/bin/jetbridge-helper',
      `--mkdir=${workDir}/out`,
      '--mkdir=/var/out',
    ]);
    expect(init?.volumeMounts).toEqual(pod.spec.containers[0]?.volumeMounts);
    expect(init?.volumeMounts).toContainEqual({ name: 'streamed-0', mountPath: '/var/out' });
  });

  it('refuses stream mode without the web artifact store, and bad transfer settings', () => {
    const base = { namespace: 'ci', helperImage: 'helper:1' };
    expect(() => resolveConfig({ ...base, artifacts: { mode: 'stream' } })).toThrow(
      /artifactStore is required/,
    );
    const artifactStore = new ArtifactStore({ root: '/nonexistent/store' });
    expect(() =>
      resolveConfig({ ...base, artifactStore, artifacts: { mode: 'stream', parallelTransfers: 0 } }),
    ).toThrow(/parallelTransfers must be a positive integer/);
    for (const maxOutputBytes of [-1, 1.5])
      expect(() =>
        resolveConfig({ ...base, artifactStore, artifacts: { mode: 'stream', maxOutputBytes } }),
      ).toThrow(/maxOutputBytes must be a whole number of bytes/);
  });

  it('limits collected outputs to 10 GiB unless told otherwise (0: no limit)', () => {
    const base = {
      namespace: 'ci',
      helperImage: 'helper:1',
      artifactStore: new ArtifactStore({ root: '/nonexistent/store' }),
    };
    const limitOf = (maxOutputBytes?: number) => {
      const { artifacts } = resolveConfig({
        ...base,
        artifacts: { mode: 'stream', ...(maxOutputBytes === undefined ? {} : { maxOutputBytes }) },
      });
      return artifacts.mode === 'stream' ? artifacts.maxOutputBytes : undefined;
    };
    expect(limitOf()).toBe(10 * 1024 ** 3);
    expect(limitOf(0)).toBe(0);
    expect(limitOf(50 * 1024 ** 3)).toBe(50 * 1024 ** 3);
  });
});
