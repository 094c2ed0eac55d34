import { describe, expect, it } from '@jest/globals';
import type { ContainerSpec } from '@jetbridge/runtime';
import { resolveConfig, type K8sWorkerConfig, type PvcArtifactsConfig } from '../config.js';
import { buildStepPod, type StepPodInput } from './step-pod.js';

// The pod of a resource step whose type is a pipeline's custom type: the engine's container spec (see
// @jetbridge/exec container-resource-types.test.ts) names the type's registry image and, for a type
// declared `privileged: true`, asks for privilege; the pod runs exactly that image.
const config: K8sWorkerConfig & { artifacts: PvcArtifactsConfig } = {
  namespace: 'ci',
  artifacts: { mode: 'pvc', claimName: 'artifacts-claim', claimMountPath: '/var/lib/jetbridge' },
  helperImage: 'ghcr.io/jetbridge/helper@sha256:abc',
};

function getStepPod(spec: Partial<ContainerSpec>, allowPrivileged = false) {
  const input: StepPodInput = {
    spec: {
      handle: 'h1',
      env: {},
      dir: '/tmp/build/get',
      mounts: [],
      metadata: { type: 'get', teamName: 'main', stepName: 'thing', resourceName: 'thing' },
      ...spec,
    },
    podName: 'jb-get-thing-0123456789',
    labels: {},
    annotations: {},
    workDir: '/tmp/build/get',
    mounts: [],
  };
  return buildStepPod(input, resolveConfig({ ...config, allowPrivileged }));
}

describe('the pod of a resource step of a custom type', () => {
  it('runs the type’s image by repository and tag, or by digest alone when one pins it', () => {
    const tagged = getStepPod({
      image: { kind: 'registry', repository: 'registry.example:5000/team/my-type', tag: '1.2' },
    });
    expect(tagged.spec.containers[0]?.image).toBe('registry.example:5000/team/my-type:1.2');
    const pinned = getStepPod({
      image: { kind: 'registry', repository: 'example/my-type', tag: 'latest', digest: 'sha256:abc' },
    });
    expect(pinned.spec.containers[0]?.image).toBe('example/my-type@sha256:abc');
  });

  it('pulls with the type image’s pull secrets', () => {
    const pod = getStepPod({
      image: { kind: 'registry', repository: 'concourse/git-resource', pullSecrets: ['registry-creds'] },
    });
    expect(pod.spec.containers[0]?.image).toBe('concourse/git-resource');
    expect(pod.spec.imagePullSecrets).toContainEqual({ name: 'registry-creds' });
  });

  it('is privileged when the custom type is, where the operator allows it', () => {
    const spec: Partial<ContainerSpec> = {
      image: { kind: 'registry', repository: 'example/docker-image-type', tag: 'latest' },
      privileged: true,
    };
    expect(getStepPod(spec, true).spec.containers[0]?.securityContext).toMatchObject({ privileged: true });
    expect(() => getStepPod(spec, false)).toThrow(/asks for privileged: true/);
  });
});
