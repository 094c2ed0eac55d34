import { describe, expect, it } from '@jest/globals';
import type { ContainerSpec } from '@jetbridge/runtime';
import { resolveConfig, type K8sWorkerConfig, type PvcArtifactsConfig } from '../config.js';
import { labelValue, podLabels, podNameFor } from './pod-identity.js';
import { buildStepPod, imageReference, resourcesFor, type StepPodInput } from './step-pod.js';

const baseConfig: K8sWorkerConfig & { artifacts: PvcArtifactsConfig } = {
  namespace: 'ci',
  artifacts: { mode: 'pvc', claimName: 'artifacts-claim', claimMountPath: '/var/lib/jetbridge' },
  helperImage: 'ghcr.io/jetbridge/helper@sha256:abc',
};

function input(spec: Partial<ContainerSpec> = {}, mounts: StepPodInput['mounts'] = []): StepPodInput {
  return {
    spec: {
      handle: 'h1',
      env: { SECRET_PARAM: 'hunter2' },
      mounts: [],
      metadata: { type: 'task', teamName: 'main', stepName: 'unit' },
      ...spec,
    },
    podName: 'jb-task-unit-0123456789',
    labels: { a: 'b' },
    annotations: {},
    workDir: '/tmp/build/abcd1234',
    mounts,
  };
}

describe('step pod spec', () => {
  it('idles on the helper, installed by an init container that copies the inputs; outputs are subPath mounts', () => {
    const pod = buildStepPod(
      input({}, [
        { subPath: 'artifacts/data/in-1', mountPath: '/tmp/build/abcd1234/src', readOnly: true },
        { subPath: 'artifacts/data/out-1', mountPath: '/tmp/build/abcd1234/out', readOnly: false },
      ]),
      resolveConfig(baseConfig),
    );
    const init = pod.spec.initContainers?.[0];
    const main = pod.spec.containers[0];
    expect(init?.image).toBe('ghcr.io/jetbridge/helper@sha256:abc');
    expect(init?.command).toEqual([
      '/jetbridge-helper',
      'copy',
      '--to=/.jetbridge/bin/jetbridge-helper',
      '--input=/.jetbridge-artifacts/artifacts/data/in-1=/tmp/build/abcd1234/src',
    ]);
    expect(main?.command).toEqual(['/.jetbridge/bin/jetbridge-helper', 'idle']);
    expect(main?.image).toBe('busybox:stable');
    expect(main?.workingDir).toBe('/tmp/build/abcd1234');
    expect(main?.volumeMounts).toEqual([
      { name: 'jetbridge', mountPath: '/.jetbridge' },
      { name: 'workspace', mountPath: '/tmp/build/abcd1234' },
      { name: 'artifacts', mountPath: '/tmp/build/abcd1234/out', subPath: 'artifacts/data/out-1' },
    ]);
    expect(init?.volumeMounts).toContainEqual({
      name: 'artifacts',
      mountPath: '/.jetbridge-artifacts',
      readOnly: true,
    });
    expect(pod.spec.volumes).toContainEqual({
      name: 'artifacts',
      persistentVolumeClaim: { claimName: 'artifacts-claim' },
    });
    expect(pod.spec).toMatchObject({
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      enableServiceLinks: false,
    });
    // Params never go into the pod spec.
    expect(JSON.stringify(pod)).not.toContain('hunter2');
    expect(main?.env).toBeUndefined();
  });

  it('mounts inputs read-only in place with the zero-copy option', () => {
    const pod = buildStepPod(
      input({}, [{ subPath: 'artifacts/data/in-1', mountPath: '/tmp/build/abcd1234/src', readOnly: true }]),
      resolveConfig({ ...baseConfig, artifacts: { ...baseConfig.artifacts, inputs: 'mount' } }),
    );
    expect(pod.spec.initContainers?.[0]?.command).toHaveLength(3);
    expect(pod.spec.containers[0]?.volumeMounts).toContainEqual({
      name: 'artifacts',
      mountPath: '/tmp/build/abcd1234/src',
      subPath: 'artifacts/data/in-1',
      readOnly: true,
    });
  });

  it('runs restricted by default, privileged only when the operator allows it', () => {
    const restricted = buildStepPod(input(), resolveConfig(baseConfig)).spec.containers[0]?.securityContext;
    expect(restricted).toEqual({
      allowPrivilegeEscalation: false,
      capabilities: {
        drop: ['ALL'],
        add: ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'NET_BIND_SERVICE'],
      },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(() => buildStepPod(input({ privileged: true }), resolveConfig(baseConfig))).toThrow(/privileged/);
    const privileged = buildStepPod(
      input({ privileged: true }),
      resolveConfig({ ...baseConfig, allowPrivileged: true }),
    ).spec.containers[0]?.securityContext;
    expect(privileged).toEqual({ privileged: true, allowPrivilegeEscalation: true });
    const init = buildStepPod(input(), resolveConfig(baseConfig)).spec.initContainers?.[0]?.securityContext;
    expect(init).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
  });

  it('maps image, pull secrets, service account, tags and limits', () => {
    const config = resolveConfig({
      ...baseConfig,
      imagePullSecrets: ['global'],
      serviceAccountName: 'jetbridge-steps',
      placement: {
        gpu: {
          nodeSelector: { 'nvidia.com/gpu.present': 'true' },
          tolerations: [{ key: 'gpu', operator: 'Exists', effect: 'NoSchedule' }],
        },
      },
    });
    const pod = buildStepPod(
      input({
        image: {
          kind: 'registry',
          repository: 'golang',
          tag: '1.23',
          digest: 'sha256:ff',
          pullSecrets: ['team'],
        },
        tags: ['gpu'],
        limits: { memoryBytes: 64 * 1024 * 1024, cpuShares: 512 },
      }),
      config,
    );
    expect(pod.spec.containers[0]?.image).toBe('golang@sha256:ff');
    expect(pod.spec.imagePullSecrets).toEqual([{ name: 'global' }, { name: 'team' }]);
    expect(pod.spec.serviceAccountName).toBe('jetbridge-steps');
    expect(pod.spec.nodeSelector).toEqual({ 'nvidia.com/gpu.present': 'true' });
    expect(pod.spec.tolerations).toEqual([{ key: 'gpu', operator: 'Exists', effect: 'NoSchedule' }]);
    expect(pod.spec.containers[0]?.resources).toEqual({
      requests: { cpu: '500m', memory: String(64 * 1024 * 1024) },
      limits: { memory: String(64 * 1024 * 1024) },
    });
    expect(() => buildStepPod(input({ tags: ['arm'] }), config)).toThrow(
      /placement .* 'arm' \(configured: gpu\)/,
    );
  });

  it('keeps a default memory request below a larger limit, and refuses images it cannot run', () => {
    expect(resourcesFor({ memoryBytes: 2 ** 30 }, { requests: { memory: '128Mi' }, limits: {} })).toEqual({
      requests: { memory: '128Mi' },
      limits: { memory: String(2 ** 30) },
    });
    expect(imageReference({ kind: 'rootfs', uri: 'docker:///alpine#3.20' }, 'x')).toBe('alpine:3.20');
    expect(() => imageReference({ kind: 'volume', volume: {} as never }, 'x')).toThrow(/image_resource/);
    expect(() => imageReference({ kind: 'rootfs', uri: 'raw:///rootfs' }, 'x')).toThrow(
      /registry images only/,
    );
  });
});

describe('imageReference', () => {
  const digest = `sha256:${'0123456789abcdef'.repeat(4)}`;

  it('runs the digest when one pins the version, dropping the tag', () => {
    expect(imageReference({ kind: 'registry', repository: 'golang', tag: '1.23', digest }, 'x')).toBe(
      `golang@${digest}`,
    );
    expect(
      imageReference({ kind: 'registry', repository: 'registry.example:5000/team/img', digest }, 'x'),
    ).toBe(`registry.example:5000/team/img@${digest}`);
  });

  it('falls back to repository:tag, the repository alone, or the default image', () => {
    expect(imageReference({ kind: 'registry', repository: 'registry.example:5000/img', tag: '2' }, 'x')).toBe(
      'registry.example:5000/img:2',
    );
    expect(imageReference({ kind: 'registry', repository: 'alpine' }, 'x')).toBe('alpine');
    expect(imageReference(undefined, 'busybox:stable')).toBe('busybox:stable');
  });
});

describe('pod identity', () => {
  it('names pods readably, at most 63 characters, unique by handle', () => {
    const metadata = {
      type: 'task' as const,
      teamName: 'main',
      pipelineName: 'A Very Long Pipeline Name With Spaces And CAPS',
      jobName: 'integration-tests-against-every-database',
      buildName: '1234',
      stepName: 'run_the_tests',
    };
    const one = podNameFor('handle-1', metadata);
    const two = podNameFor('handle-2', metadata);
    expect(one).not.toBe(two);
    for (const name of [one, two]) {
      expect(name.length).toBeLessThanOrEqual(63);
      expect(name).toMatch(/^jb-task-a-very-long-pipeline-[a-z0-9-]*-[0-9a-f]{10}$/);
    }
  });

  it('sanitizes label values and keeps exact values for annotations', () => {
    expect(labelValue('my pipeline/with:odd*chars!')).toBe('my-pipeline-with-odd-chars');
    expect(labelValue('-x-')).toBe('x');
    expect(labelValue('a'.repeat(80))).toHaveLength(63);
    const labels = podLabels('ci', 'h', {
      type: 'get',
      teamName: 'main team',
      buildId: 42,
      resourceName: 'repo',
    });
    expect(labels).toMatchObject({
      'app.kubernetes.io/managed-by': 'jetbridge',
      'jetbridge.io/instance': 'ci',
      'jetbridge.io/team': 'main-team',
      'jetbridge.io/build': '42',
      'jetbridge.io/step': 'repo',
      'jetbridge.io/type': 'get',
    });
  });
});
