import { inspect } from 'node:util';
import { describe, expect, it } from '@jest/globals';
import { K8S_WORKER_DEFAULTS } from '@jetbridge/runtime-k8s';
import { parseGoDuration } from '@jetbridge/plan';
import { ConfigError, parseByteSize, parseWebConfig, SecretText } from './index.js';
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

const KEY = 'a-capability-key-of-forty-bytes-0123456';

/** What the chart renders in node-local mode (with artifactDaemon.enabled). */
const CHART_NODE_LOCAL_ENV = {
  ...CHART_PVC_ENV,
  CONCOURSE_KUBERNETES_CLAIM: '',
  CONCOURSE_KUBERNETES_CLAIM_MOUNT_PATH: '',
  CONCOURSE_KUBERNETES_ARTIFACT_MODE: 'node-local',
  CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_PORT: '7780',
  CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_HOST_PATH: '/var/lib/jetbridge-artifacts',
  CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_SELECTOR:
    'app.kubernetes.io/component=artifact-daemon,app.kubernetes.io/instance=ci',
  CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_NAMESPACE: 'jetbridge',
  CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_CAPABILITY_KEY: KEY,
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
    expect(parseByteSize(defaultOf('kubernetes-stream-max-output-size') ?? '')).toBe(
      K8S_WORKER_DEFAULTS.maxOutputBytes,
    );
  });

  it('takes --kubernetes-api-retry-budget 0s as "never retry", and leaves it to the runtime when unset', () => {
    expect(
      parseWebConfig(['--kubernetes-api-retry-budget', '0s'], CHART_PVC_ENV, '/srv').kubernetes
        ?.apiRetryBudgetMs,
    ).toBe(0);
    expect(parseWebConfig([], CHART_PVC_ENV, '/srv').kubernetes).not.toHaveProperty('apiRetryBudgetMs');
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
        CONCOURSE_KUBERNETES_API_RETRY_BUDGET: '2m',
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
    expect(k?.apiRetryBudgetMs).toBe(120_000);
    expect(k?.tagPlacement).toEqual({
      arm64: {
        nodeSelector: { 'kubernetes.io/arch': 'arm64' },
        tolerations: [{ effect: 'NoSchedule', key: 'arch', operator: 'Equal', value: 'arm64' }],
      },
    });
  });

  it('accepts stream mode', () => {
    const stream = parseWebConfig([], { ...CHART_PVC_ENV, CONCOURSE_KUBERNETES_ARTIFACT_MODE: 'stream' });
    expect(stream.kubernetes?.artifacts).toEqual({ mode: 'stream', maxOutputBytes: 10 * 1024 ** 3 });
  });

  it('reads the stream-mode output limit as a size, flag over env, 0 for none', () => {
    const env = {
      ...CHART_PVC_ENV,
      CONCOURSE_KUBERNETES_ARTIFACT_MODE: 'stream',
      CONCOURSE_KUBERNETES_STREAM_MAX_OUTPUT_SIZE: '50GB',
    };
    expect(parseWebConfig([], env).kubernetes?.artifacts).toEqual({
      mode: 'stream',
      maxOutputBytes: 50 * 1024 ** 3,
    });
    expect(
      parseWebConfig(['--kubernetes-stream-max-output-size', '512MB'], env).kubernetes?.artifacts,
    ).toEqual({ mode: 'stream', maxOutputBytes: 512 * 1024 ** 2 });
    expect(
      parseWebConfig([], { ...env, CONCOURSE_KUBERNETES_STREAM_MAX_OUTPUT_SIZE: '0' }).kubernetes?.artifacts,
    ).toEqual({ mode: 'stream', maxOutputBytes: 0 });
  });

  it('reads node-local mode as the chart renders it: daemons found by label, the key kept secret', () => {
    const nodeLocal = parseWebConfig(
      [],
      { ...CHART_NODE_LOCAL_ENV, CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_TLS_CA_CERT: 'tls/ca.crt' },
      '/srv',
    );
    const artifacts = nodeLocal.kubernetes?.artifacts;
    expect(artifacts).toEqual({
      mode: 'node-local',
      daemonPort: 7780,
      daemonHostPath: '/var/lib/jetbridge-artifacts',
      daemons: {
        discover: {
          labelSelector: 'app.kubernetes.io/component=artifact-daemon,app.kubernetes.io/instance=ci',
          namespace: 'jetbridge',
        },
      },
      capabilityKey: expect.any(SecretText),
      tlsCaCertPath: '/srv/tls/ca.crt',
      mirrorReplicas: 0,
    });
    if (artifacts?.mode !== 'node-local') throw new Error('not node-local');
    expect(artifacts.capabilityKey.reveal()).toBe(KEY);
    // However the settings get logged, the key is not in it.
    const shown = [
      JSON.stringify(nodeLocal),
      inspect(nodeLocal, { depth: 10 }),
      String(artifacts.capabilityKey),
      `${artifacts.capabilityKey}`,
    ];
    for (const text of shown) expect(text).not.toContain(KEY);
    expect(JSON.stringify(artifacts)).toContain('"capabilityKey":"[redacted]"');
  });

  it('takes a fixed node → URL map instead of the selector, and mirror replicas', () => {
    const config = parseWebConfig([], {
      ...CHART_NODE_LOCAL_ENV,
      CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_SELECTOR: '',
      CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_URLS:
        '{"node-a":"http://10.0.0.11:7780/","node-b":"https://b:7780"}',
      CONCOURSE_KUBERNETES_ARTIFACT_MIRROR_REPLICAS: '1',
    });
    expect(config.kubernetes?.artifacts).toMatchObject({
      daemons: { urls: { 'node-a': 'http://10.0.0.11:7780', 'node-b': 'https://b:7780' } },
      mirrorReplicas: 1,
    });
  });

  it.each([
    [
      { CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_CAPABILITY_KEY: '' },
      '--kubernetes-artifact-daemon-capability-key',
      'needs the key',
    ],
    [
      { CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_CAPABILITY_KEY: 'short-secret-value' },
      '--kubernetes-artifact-daemon-capability-key',
      'at least 32 bytes',
    ],
    [
      { CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_SELECTOR: '' },
      '--kubernetes-artifact-daemon-selector',
      'label selector',
    ],
    [
      { CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_URLS: '{"node-a":"http://a:7780"}' },
      '--kubernetes-artifact-daemon-urls',
      'not both',
    ],
    [
      { CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_URLS: 'node-a=http://a' },
      '--kubernetes-artifact-daemon-urls',
      'not JSON',
    ],
    [
      { CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_URLS: '{}' },
      '--kubernetes-artifact-daemon-urls',
      'at least one node',
    ],
    [
      { CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_URLS: '{"node-a":"ftp://a"}' },
      '--kubernetes-artifact-daemon-urls',
      "node 'node-a'",
    ],
    [
      { CONCOURSE_KUBERNETES_ARTIFACT_MIRROR_REPLICAS: '-1' },
      '--kubernetes-artifact-mirror-replicas',
      'whole number',
    ],
    [
      { CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_NAMESPACE: 'Bad_NS' },
      '--kubernetes-artifact-daemon-namespace',
      'valid Kubernetes name',
    ],
    [
      { CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_HOST_PATH: 'relative/dir' },
      '--kubernetes-artifact-daemon-host-path',
      'absolute',
    ],
  ])('node-local: refuses %j naming %s, never echoing the key', (overrides, flag, why) => {
    let error: unknown;
    try {
      parseWebConfig([], { ...CHART_NODE_LOCAL_ENV, ...overrides });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(flag);
    expect((error as Error).message).toContain(why);
    expect((error as Error).message).not.toContain(KEY);
    expect((error as Error).message).not.toContain('short-secret-value');
  });

  it('names the step namespace first when --runtime kubernetes has no settings at all', () => {
    expect(() => parseWebConfig([], { JETBRIDGE_RUNTIME: 'kubernetes' })).toThrow(
      'invalid value for --kubernetes-namespace (CONCOURSE_KUBERNETES_NAMESPACE): the step namespace is required with --runtime kubernetes',
    );
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
    [
      { CONCOURSE_KUBERNETES_STREAM_MAX_OUTPUT_SIZE: '10 GiB' },
      '--kubernetes-stream-max-output-size (CONCOURSE_KUBERNETES_STREAM_MAX_OUTPUT_SIZE)',
      'not a size',
    ],
    [
      { CONCOURSE_KUBERNETES_STREAM_MAX_OUTPUT_SIZE: '-1' },
      '--kubernetes-stream-max-output-size',
      'not a size',
    ],
    [{ CONCOURSE_KUBERNETES_ALLOW_PRIVILEGED: 'yes' }, '--kubernetes-allow-privileged', 'true, false'],
    [
      { CONCOURSE_KUBERNETES_POD_SCHEDULING_TIMEOUT: '15' },
      '--kubernetes-pod-scheduling-timeout',
      'duration',
    ],
    [{ CONCOURSE_KUBERNETES_KEEP_FOR_HIJACK: '-1m' }, '--kubernetes-keep-for-hijack', 'duration'],
    [{ CONCOURSE_KUBERNETES_API_RETRY_BUDGET: 'soon' }, '--kubernetes-api-retry-budget', 'duration'],
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
