import { describe, expect, it } from '@jest/globals';
import { K8S_WORKER_DEFAULTS } from '@jetbridge/runtime-k8s';
import { parseGoDuration } from '@jetbridge/plan';
import { ConfigError, parseWebConfig } from './index.js';
import { optionSpecs } from './options.js';

/** What the chart renders for `--runtime kubernetes` in pvc mode (deploy/chart/templates/_helpers.tpl). */
const CHART_PVC_ENV = {
  JETBRIDGE_RUNTIME: 'kubernetes',
  CONCOURSE_KUBERNETES_NAMESPACE: 'ci',
  CONCOURSE_KUBERNETES_INSTANCE: 'ci-jetbridge',
  CONCOURSE_KUBERNETES_ARTIFACT_MODE: 'pvc',
  CONCOURSE_KUBERNETES_CLAIM: 'ci-jetbridge-artifacts',
  CONCOURSE_KUBERNETES_CLAIM_MOUNT_PATH: '/var/lib/jetbridge-artifacts',
  CONCOURSE_KUBERNETES_HELPER_IMAGE: 'jetbridge/jetbridge-helper:0.1.0',
  CONCOURSE_KUBERNETES_ALLOW_PRIVILEGED: 'false',
  CONCOURSE_KUBERNETES_POD_STARTUP_TIMEOUT: '5m',
  CONCOURSE_KUBERNETES_POD_SCHEDULING_TIMEOUT: '15m',
};

function defaultOf(flag: string): string | undefined {
  const spec = optionSpecs.find((s) => s.flag === flag);
  return spec && 'default' in spec ? spec.default : undefined;
}

describe('--runtime kubernetes settings', () => {
  it('reads what the chart renders in pvc mode, with the runtime defaults for the rest', () => {
    const config = parseWebConfig([], CHART_PVC_ENV, '/srv');
    expect(config.runtime).toBe('kubernetes');
    expect(config.kubernetes).toEqual({
      namespace: 'ci',
      instance: 'ci-jetbridge',
      artifacts: {
        mode: 'pvc',
        claimName: 'ci-jetbridge-artifacts',
        claimMountPath: '/var/lib/jetbridge-artifacts',
        directory: 'artifacts',
        inputs: 'copy',
      },
      helperImage: 'jetbridge/jetbridge-helper:0.1.0',
      helperBinaryPath: '/jetbridge-helper',
      defaultTaskImage: 'busybox:stable',
      imagePullSecrets: [],
      allowPrivileged: false,
      podStartupTimeoutMs: 5 * 60_000,
      podSchedulingTimeoutMs: 15 * 60_000,
      keepForHijackMs: 5 * 60_000,
      resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: {} },
      tagPlacement: {},
    });
  });

  it("keeps the option table's defaults equal to the runtime's own", () => {
    expect(defaultOf('kubernetes-instance')).toBe(K8S_WORKER_DEFAULTS.instance);
    expect(defaultOf('kubernetes-helper-binary-path')).toBe(K8S_WORKER_DEFAULTS.helperBinaryPath);
    expect(defaultOf('kubernetes-default-task-image')).toBe(K8S_WORKER_DEFAULTS.defaultImage);
    expect(defaultOf('kubernetes-artifact-directory')).toBe(K8S_WORKER_DEFAULTS.artifactsDirectory);
    expect(defaultOf('kubernetes-inputs')).toBe(K8S_WORKER_DEFAULTS.inputs);
    expect(defaultOf('kubernetes-step-cpu-request')).toBe(K8S_WORKER_DEFAULTS.resources.requests.cpu);
    expect(defaultOf('kubernetes-step-memory-request')).toBe(K8S_WORKER_DEFAULTS.resources.requests.memory);
    expect(parseGoDuration(defaultOf('kubernetes-pod-startup-timeout') ?? '')).toBe(
      K8S_WORKER_DEFAULTS.podStartTimeoutMs,
    );
    expect(parseGoDuration(defaultOf('kubernetes-pod-scheduling-timeout') ?? '')).toBe(
      K8S_WORKER_DEFAULTS.schedulingTimeoutMs,
    );
    expect(parseGoDuration(defaultOf('kubernetes-keep-for-hijack') ?? '')).toBe(
      K8S_WORKER_DEFAULTS.keepForHijackMs,
    );
  });

  it('reads every optional setting: lists, quantities, JSON tag placement, flags over env', () => {
    const config = parseWebConfig(
      ['--kubernetes-inputs', 'mount', '--kubernetes-kubeconfig', 'kube/config'],
      {
        ...CHART_PVC_ENV,
        CONCOURSE_KUBERNETES_ARTIFACT_DIRECTORY: '/jetbridge/artifacts/',
        CONCOURSE_KUBERNETES_IMAGE_PULL_SECRETS: 'registry-credentials,other',
        CONCOURSE_KUBERNETES_SERVICE_ACCOUNT: 'jetbridge-steps',
        CONCOURSE_KUBERNETES_ALLOW_PRIVILEGED: 'true',
        CONCOURSE_KUBERNETES_STEP_CPU_REQUEST: '250m',
        CONCOURSE_KUBERNETES_STEP_MEMORY_REQUEST: '256Mi',
        CONCOURSE_KUBERNETES_STEP_CPU_LIMIT: '2',
        CONCOURSE_KUBERNETES_STEP_MEMORY_LIMIT: '4Gi',
        CONCOURSE_KUBERNETES_KEEP_FOR_HIJACK: '90s',
        // Exactly the chart's `toJson` of ci/production-values.yaml's tagPlacement.
        CONCOURSE_KUBERNETES_TAG_PLACEMENT:
          '{"arm64":{"nodeSelector":{"kubernetes.io/arch":"arm64"},"tolerations":[{"effect":"NoSchedule","key":"arch","operator":"Equal","value":"arm64"}]}}',
      },
      '/srv',
    );
    const k = config.kubernetes;
    expect(k?.kubeconfigPath).toBe('/srv/kube/config');
    expect(k?.artifacts).toMatchObject({ directory: 'jetbridge/artifacts', inputs: 'mount' });
    expect(k?.imagePullSecrets).toEqual(['registry-credentials', 'other']);
    expect(k?.serviceAccount).toBe('jetbridge-steps');
    expect(k?.allowPrivileged).toBe(true);
    expect(k?.resources).toEqual({
      requests: { cpu: '250m', memory: '256Mi' },
      limits: { cpu: '2', memory: '4Gi' },
    });
    expect(k?.keepForHijackMs).toBe(90_000);
    expect(k?.tagPlacement).toEqual({
      arm64: {
        nodeSelector: { 'kubernetes.io/arch': 'arm64' },
        tolerations: [{ effect: 'NoSchedule', key: 'arch', operator: 'Equal', value: 'arm64' }],
      },
    });
  });

  it('accepts stream and node-local modes (node-local is refused at start, not here)', () => {
    const stream = parseWebConfig([], { ...CHART_PVC_ENV, CONCOURSE_KUBERNETES_ARTIFACT_MODE: 'stream' });
    expect(stream.kubernetes?.artifacts).toEqual({ mode: 'stream' });
    const nodeLocal = parseWebConfig([], {
      ...CHART_PVC_ENV,
      CONCOURSE_KUBERNETES_CLAIM: '',
      CONCOURSE_KUBERNETES_CLAIM_MOUNT_PATH: '',
      CONCOURSE_KUBERNETES_ARTIFACT_MODE: 'node-local',
      CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_PORT: '7780',
      CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_HOST_PATH: '/var/lib/jetbridge-artifacts',
    });
    expect(nodeLocal.kubernetes?.artifacts).toEqual({
      mode: 'node-local',
      daemonPort: 7780,
      daemonHostPath: '/var/lib/jetbridge-artifacts',
    });
  });

  it('has no kubernetes settings on the local runtime, but still refuses a bad value there', () => {
    expect(parseWebConfig([], {}).kubernetes).toBeUndefined();
    expect(() => parseWebConfig([], { CONCOURSE_KUBERNETES_POD_STARTUP_TIMEOUT: 'soon' })).toThrow(
      '--kubernetes-pod-startup-timeout (CONCOURSE_KUBERNETES_POD_STARTUP_TIMEOUT)',
    );
  });

  it.each([
    [
      { CONCOURSE_KUBERNETES_NAMESPACE: '' },
      '--kubernetes-namespace (CONCOURSE_KUBERNETES_NAMESPACE)',
      'required',
    ],
    [
      { CONCOURSE_KUBERNETES_NAMESPACE: 'Not_A_Namespace' },
      '--kubernetes-namespace',
      'not a valid Kubernetes name',
    ],
    [{ CONCOURSE_KUBERNETES_HELPER_IMAGE: '' }, '--kubernetes-helper-image', 'required'],
    [{ CONCOURSE_KUBERNETES_CLAIM: '' }, '--kubernetes-claim (CONCOURSE_KUBERNETES_CLAIM)', 'pvc mode'],
    [{ CONCOURSE_KUBERNETES_CLAIM_MOUNT_PATH: '' }, '--kubernetes-claim-mount-path', 'pvc mode'],
    [{ CONCOURSE_KUBERNETES_ARTIFACT_MODE: 'nfs' }, '--kubernetes-artifact-mode', 'pvc, stream, node-local'],
    [{ CONCOURSE_KUBERNETES_INPUTS: 'link' }, '--kubernetes-inputs', 'copy, mount'],
    [{ CONCOURSE_KUBERNETES_ALLOW_PRIVILEGED: 'yes' }, '--kubernetes-allow-privileged', 'true, false'],
    [
      { CONCOURSE_KUBERNETES_POD_SCHEDULING_TIMEOUT: '15' },
      '--kubernetes-pod-scheduling-timeout',
      'duration',
    ],
    [{ CONCOURSE_KUBERNETES_KEEP_FOR_HIJACK: '-1m' }, '--kubernetes-keep-for-hijack', 'duration'],
    [{ CONCOURSE_KUBERNETES_STEP_CPU_LIMIT: 'two' }, '--kubernetes-step-cpu-limit', 'quantity'],
    [{ CONCOURSE_KUBERNETES_STEP_MEMORY_REQUEST: '1 GB' }, '--kubernetes-step-memory-request', 'quantity'],
    [{ CONCOURSE_KUBERNETES_ARTIFACT_DIRECTORY: '../outside' }, '--kubernetes-artifact-directory', 'inside'],
    [{ CONCOURSE_KUBERNETES_INSTANCE: '-bad-' }, '--kubernetes-instance', 'label value'],
    [{ CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_PORT: '99999' }, '--kubernetes-artifact-daemon-port', 'port'],
    [{ CONCOURSE_KUBERNETES_TAG_PLACEMENT: 'arm64=linux' }, '--kubernetes-tag-placement', 'not JSON'],
    [{ CONCOURSE_KUBERNETES_TAG_PLACEMENT: '["arm64"]' }, '--kubernetes-tag-placement', 'JSON object'],
    [
      { CONCOURSE_KUBERNETES_TAG_PLACEMENT: '{"arm64":{"nodeSelectors":{}}}' },
      '--kubernetes-tag-placement',
      'unknown key(s) nodeSelectors',
    ],
    [
      { CONCOURSE_KUBERNETES_TAG_PLACEMENT: '{"gpu":{"tolerations":[{"effect":"Sometimes"}]}}' },
      '--kubernetes-tag-placement',
      'effect must be',
    ],
    [
      { CONCOURSE_KUBERNETES_TAG_PLACEMENT: '{"gpu":{"nodeSelector":{"gpu":true}}}' },
      '--kubernetes-tag-placement',
      'string values',
    ],
  ])('refuses %j naming %s', (overrides, flag, why) => {
    let error: unknown;
    try {
      parseWebConfig([], { ...CHART_PVC_ENV, ...overrides });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(flag);
    expect((error as Error).message).toContain(why);
  });
});
