// The `--kubernetes-*` settings of `--runtime kubernetes`, validated as the chart renders them (durations as Go
// durations, lists comma-separated, tag placement as JSON). Required ones are only required with that runtime;
// a value that is set but bad fails whatever the runtime, naming its flag.
import path from 'node:path';
import { parseGoDuration } from '@jetbridge/plan';
import { parseByteSize } from './byte-size.js';
import type { OptionFlag } from './options.js';

/** What the web's parser lends this one: raw values (with defaults) and its error convention. */
export interface OptionReader {
  get(flag: OptionFlag): string | undefined;
  list(flag: OptionFlag): string[];
  fail(flag: OptionFlag, why: string): never;
  positiveDuration(flag: OptionFlag, example: string): number;
  port(flag: OptionFlag): number;
  oneOf<T extends string>(flag: OptionFlag, allowed: readonly T[]): T;
}

export interface TolerationSetting {
  key?: string;
  operator?: 'Exists' | 'Equal';
  value?: string;
  effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
  tolerationSeconds?: number;
}

export interface PlacementSetting {
  nodeSelector?: Record<string, string>;
  tolerations?: TolerationSetting[];
}

export type KubernetesArtifactSettings =
  | {
      mode: 'pvc';
      claimName: string;
      claimMountPath: string;
      directory: string;
      inputs: 'copy' | 'mount';
    }
  | StreamArtifactSettings
  | NodeLocalArtifactSettings;

/** stream mode: outputs are collected into the web's data directory. */
export interface StreamArtifactSettings {
  mode: 'stream';
  /** `--kubernetes-stream-max-output-size`: largest uncompressed tar of one output; 0: no limit. */
  maxOutputBytes: number;
}

/** node-local mode: an artifact daemon on every node (the chart's DaemonSet) keeps that node's artifacts. */
export interface NodeLocalArtifactSettings {
  mode: 'node-local';
  daemonPort: number;
  daemonHostPath: string;
  /** How the web finds the daemons: their pods by label, or a fixed node → URL map. */
  daemons: { discover: { labelSelector: string; namespace?: string } } | { urls: Record<string, string> };
  /** Signs capability tokens; shared with the daemons. Never logged (see SecretText). */
  capabilityKey: SecretText;
  /** CA file (on the web's filesystem) the daemons' certificates are checked with: https when set. */
  tlsCaCertPath?: string;
  mirrorReplicas: number;
}

/**
 * A secret setting: its text only through `reveal()`. Logging the settings (pino, JSON.stringify,
 * console.log/util.inspect) shows `[redacted]` instead.
 */
export class SecretText {
  readonly #text: string;
  constructor(text: string) {
    this.#text = text;
  }
  reveal(): string {
    return this.#text;
  }
  toJSON(): string {
    return '[redacted]';
  }
  toString(): string {
    return '[redacted]';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return '[redacted]';
  }
}

/** Shortest capability key the daemons accept (@jetbridge/artifact-daemon's MIN_KEY_BYTES). */
const MIN_CAPABILITY_KEY_BYTES = 32;

export interface KubernetesRuntimeSettings {
  /** Unset: the in-cluster service account. */
  kubeconfigPath?: string;
  namespace: string;
  instance: string;
  artifacts: KubernetesArtifactSettings;
  helperImage: string;
  helperBinaryPath: string;
  defaultTaskImage: string;
  imagePullSecrets: string[];
  serviceAccount?: string;
  allowPrivileged: boolean;
  podStartupTimeoutMs: number;
  podSchedulingTimeoutMs: number;
  keepForHijackMs: number;
  /** `--kubernetes-api-retry-budget`; unset: the runtime's default (30 s, or JETBRIDGE_KUBE_API_RETRY_BUDGET_MS). */
  apiRetryBudgetMs?: number;
  resources: {
    requests: { cpu: string; memory: string };
    limits: { cpu?: string; memory?: string };
  };
  tagPlacement: Record<string, PlacementSetting>;
}

/** A Kubernetes resource quantity: `100m`, `0.5`, `128Mi`, `2G`, `1e3`. */
const QUANTITY = /^\+?(\d+(\.\d*)?|\.\d+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+)?$/;
/** Namespaces and claim names: DNS-1123 labels/subdomains. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const TOLERATION_KEYS = new Set(['key', 'operator', 'value', 'effect', 'tolerationSeconds']);

/**
 * Every `--kubernetes-*` value checked; the settings when `runtime` is kubernetes (required values present),
 * undefined otherwise.
 */
export function parseKubernetesSettings(
  read: OptionReader,
  runtime: 'local' | 'kubernetes',
  cwd: string,
): KubernetesRuntimeSettings | undefined {
  const required = (flag: OptionFlag, what: string): string => {
    const value = read.get(flag)?.trim();
    if (!value) read.fail(flag, `${what} is required with --runtime kubernetes`);
    return value as string;
  };
  const optional = (flag: OptionFlag): string | undefined => {
    const value = read.get(flag)?.trim();
    return value ? value : undefined;
  };
  /** An optional Go duration that may be 0; undefined when unset. */
  const zeroOrMoreDuration = (flag: OptionFlag, example: string): number | undefined => {
    const value = optional(flag);
    if (value === undefined) return undefined;
    let ms: number | undefined;
    try {
      ms = parseGoDuration(value);
    } catch {
      ms = undefined;
    }
    if (ms === undefined || ms < 0) read.fail(flag, `'${value}' is not a duration (e.g. ${example}, or 0s)`);
    return ms;
  };
  const quantity = (flag: OptionFlag): string | undefined => {
    const value = optional(flag);
    if (value !== undefined && !QUANTITY.test(value))
      read.fail(flag, `'${value}' is not a Kubernetes quantity (e.g. 500m, 2, 256Mi, 4Gi)`);
    return value;
  };
  const dnsName = (flag: OptionFlag, value: string | undefined, pattern: RegExp): void => {
    if (value !== undefined && (!pattern.test(value) || value.length > 253))
      read.fail(flag, `'${value}' is not a valid Kubernetes name (lower-case letters, digits and '-')`);
  };

  // Checked whatever the runtime: a bad value is a mistake even where it is not used yet.
  const mode = read.oneOf('kubernetes-artifact-mode', ['pvc', 'stream', 'node-local'] as const);
  const inputs = read.oneOf('kubernetes-inputs', ['copy', 'mount'] as const);
  const allowPrivileged = read.oneOf('kubernetes-allow-privileged', ['true', 'false'] as const) === 'true';
  const podStartupTimeoutMs = read.positiveDuration('kubernetes-pod-startup-timeout', '5m');
  const podSchedulingTimeoutMs = read.positiveDuration('kubernetes-pod-scheduling-timeout', '15m');
  const keepForHijackMs = read.positiveDuration('kubernetes-keep-for-hijack', '5m');
  const apiRetryBudgetMs = zeroOrMoreDuration('kubernetes-api-retry-budget', '2m');
  const cpuRequest = quantity('kubernetes-step-cpu-request');
  const memoryRequest = quantity('kubernetes-step-memory-request');
  const cpuLimit = quantity('kubernetes-step-cpu-limit');
  const memoryLimit = quantity('kubernetes-step-memory-limit');
  const tagPlacement = parseTagPlacement(read, optional('kubernetes-tag-placement'));
  const daemonPort = read.port('kubernetes-artifact-daemon-port');
  const mirrorReplicas = wholeNumber(read, 'kubernetes-artifact-mirror-replicas');
  const maxOutputBytes = byteSizeOrZero(read, 'kubernetes-stream-max-output-size');
  parseDaemonUrls(read, optional('kubernetes-artifact-daemon-urls'));
  dnsName(
    'kubernetes-artifact-daemon-namespace',
    optional('kubernetes-artifact-daemon-namespace'),
    DNS_LABEL,
  );
  const namespace = optional('kubernetes-namespace');
  dnsName('kubernetes-namespace', namespace, DNS_LABEL);
  const claimName = optional('kubernetes-claim');
  dnsName('kubernetes-claim', claimName, DNS_SUBDOMAIN);
  const instance = optional('kubernetes-instance') ?? 'jetbridge';
  if (!LABEL_VALUE.test(instance) || instance.length > 63)
    read.fail(
      'kubernetes-instance',
      `'${instance}' is not a valid label value (up to 63 letters, digits, '-', '_', '.')`,
    );
  const directory = (optional('kubernetes-artifact-directory') ?? 'artifacts').replace(/^\/+|\/+$/g, '');
  if (directory === '' || directory.split('/').includes('..'))
    read.fail(
      'kubernetes-artifact-directory',
      `'${read.get('kubernetes-artifact-directory')}' must be a directory inside the claim`,
    );
  const imagePullSecrets = read.list('kubernetes-image-pull-secrets');
  for (const secret of imagePullSecrets) dnsName('kubernetes-image-pull-secrets', secret, DNS_SUBDOMAIN);

  if (runtime !== 'kubernetes') return undefined;

  // The namespace first: without it nothing else matters.
  const stepNamespace = required('kubernetes-namespace', 'the step namespace');
  let artifacts: KubernetesArtifactSettings;
  if (mode === 'pvc') {
    const claimMountPath = required('kubernetes-claim-mount-path', 'the claim mount path (pvc mode)');
    artifacts = {
      mode,
      claimName: required('kubernetes-claim', 'the artifact claim (pvc mode)'),
      claimMountPath: path.resolve(cwd, claimMountPath),
      directory,
      inputs,
    };
  } else if (mode === 'stream') {
    artifacts = { mode, maxOutputBytes };
  } else {
    const hostPath = required(
      'kubernetes-artifact-daemon-host-path',
      'the artifact daemon host path (node-local mode)',
    );
    if (!path.isAbsolute(hostPath))
      read.fail('kubernetes-artifact-daemon-host-path', `'${hostPath}' is not an absolute path`);
    const tlsCaCert = optional('kubernetes-artifact-daemon-tls-ca-cert');
    artifacts = {
      mode,
      daemonPort,
      daemonHostPath: hostPath,
      daemons: daemonLocation(read, optional),
      capabilityKey: capabilityKey(read),
      ...(tlsCaCert === undefined ? {} : { tlsCaCertPath: path.resolve(cwd, tlsCaCert) }),
      mirrorReplicas,
    };
  }
  const kubeconfig = optional('kubernetes-kubeconfig');
  const serviceAccount = optional('kubernetes-service-account');
  dnsName('kubernetes-service-account', serviceAccount, DNS_SUBDOMAIN);
  return {
    ...(kubeconfig === undefined ? {} : { kubeconfigPath: path.resolve(cwd, kubeconfig) }),
    namespace: stepNamespace,
    instance,
    artifacts,
    helperImage: required('kubernetes-helper-image', 'the helper image'),
    helperBinaryPath: optional('kubernetes-helper-binary-path') ?? '/jetbridge-helper',
    defaultTaskImage: optional('kubernetes-default-task-image') ?? 'busybox:stable',
    imagePullSecrets,
    ...(serviceAccount === undefined ? {} : { serviceAccount }),
    allowPrivileged,
    podStartupTimeoutMs,
    podSchedulingTimeoutMs,
    keepForHijackMs,
    ...(apiRetryBudgetMs === undefined ? {} : { apiRetryBudgetMs }),
    resources: {
      requests: { cpu: cpuRequest ?? '100m', memory: memoryRequest ?? '128Mi' },
      limits: {
        ...(cpuLimit === undefined ? {} : { cpu: cpuLimit }),
        ...(memoryLimit === undefined ? {} : { memory: memoryLimit }),
      },
    },
    tagPlacement,
  };
}

/** A size such as 10GB (binary units, as --max-artifact-upload-size), or 0 for none. */
function byteSizeOrZero(read: OptionReader, flag: OptionFlag): number {
  const text = read.get(flag)?.trim() ?? '';
  const bytes = parseByteSize(text);
  if (bytes === undefined || !Number.isSafeInteger(bytes))
    read.fail(flag, `'${text}' is not a size (e.g. 10GB, 500MB, or 0 for no limit)`);
  return bytes as number;
}

function wholeNumber(read: OptionReader, flag: OptionFlag): number {
  const text = read.get(flag)?.trim() ?? '';
  if (!/^\d+$/.test(text)) read.fail(flag, `'${text}' is not a whole number`);
  return Number(text);
}

/** Exactly one of the selector and the URL map says where the daemons are. */
function daemonLocation(
  read: OptionReader,
  optional: (flag: OptionFlag) => string | undefined,
): NodeLocalArtifactSettings['daemons'] {
  const selector = optional('kubernetes-artifact-daemon-selector');
  const urls = parseDaemonUrls(read, optional('kubernetes-artifact-daemon-urls'));
  if (selector !== undefined && urls !== undefined)
    read.fail(
      'kubernetes-artifact-daemon-urls',
      'give the daemons’ URLs or --kubernetes-artifact-daemon-selector, not both',
    );
  if (urls !== undefined) return { urls };
  if (selector === undefined)
    read.fail(
      'kubernetes-artifact-daemon-selector',
      'node-local mode needs the label selector of the artifact daemons’ pods (or --kubernetes-artifact-daemon-urls)',
    );
  const namespace = optional('kubernetes-artifact-daemon-namespace');
  return {
    discover: { labelSelector: selector as string, ...(namespace === undefined ? {} : { namespace }) },
  };
}

/** Read whole, never echoed: an error names the flag and what is wrong, not the value. */
function capabilityKey(read: OptionReader): SecretText {
  const flag = 'kubernetes-artifact-daemon-capability-key';
  const text = read.get(flag) ?? '';
  if (text.trim() === '')
    read.fail(flag, 'node-local mode needs the key shared with the artifact daemons (it signs their tokens)');
  if (Buffer.byteLength(text, 'utf8') < MIN_CAPABILITY_KEY_BYTES)
    read.fail(flag, `must be at least ${MIN_CAPABILITY_KEY_BYTES} bytes`);
  return new SecretText(text);
}

/** `{"node-a": "http://10.0.0.11:7780", …}`, as the chart renders a map. */
function parseDaemonUrls(read: OptionReader, text: string | undefined): Record<string, string> | undefined {
  if (text === undefined) return undefined;
  const flag = 'kubernetes-artifact-daemon-urls';
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    read.fail(flag, 'is not JSON (e.g. {"node-a": "http://10.0.0.11:7780"})');
  }
  if (!isObject(parsed) || Object.keys(parsed).length === 0)
    read.fail(flag, 'must be a JSON object of node name → daemon URL, naming at least one node');
  const urls: Record<string, string> = {};
  for (const [node, url] of Object.entries(parsed as Record<string, unknown>)) {
    let valid = false;
    try {
      valid = typeof url === 'string' && /^https?:$/.test(new URL(url).protocol);
    } catch {
      valid = false;
    }
    if (!valid) read.fail(flag, `node '${node}': ${JSON.stringify(url)} is not an http(s) URL`);
    urls[node] = (url as string).replace(/\/+$/, '');
  }
  return urls;
}

/** `{"<tag>": {"nodeSelector": {"k": "v"}, "tolerations": [{…}]}}`, as the chart renders `kubernetes.tagPlacement`. */
function parseTagPlacement(read: OptionReader, text: string | undefined): Record<string, PlacementSetting> {
  if (text === undefined) return {};
  const flag = 'kubernetes-tag-placement';
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    read.fail(flag, 'is not JSON (e.g. {"arm64": {"nodeSelector": {"kubernetes.io/arch": "arm64"}}})');
  }
  if (!isObject(parsed)) read.fail(flag, 'must be a JSON object of step tag → placement');
  const placement: Record<string, PlacementSetting> = {};
  for (const [tag, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (!isObject(value)) read.fail(flag, `tag '${tag}' must map to {"nodeSelector": …, "tolerations": …}`);
    const entry = value as Record<string, unknown>;
    const unknown = Object.keys(entry).filter((key) => key !== 'nodeSelector' && key !== 'tolerations');
    if (unknown.length > 0) read.fail(flag, `tag '${tag}' has unknown key(s) ${unknown.join(', ')}`);
    const result: PlacementSetting = {};
    if (entry.nodeSelector !== undefined) {
      const selector = entry.nodeSelector;
      if (!isObject(selector) || Object.values(selector).some((v) => typeof v !== 'string'))
        read.fail(flag, `tag '${tag}': nodeSelector must map label names to string values`);
      result.nodeSelector = selector as Record<string, string>;
    }
    if (entry.tolerations !== undefined) {
      if (!Array.isArray(entry.tolerations)) read.fail(flag, `tag '${tag}': tolerations must be a list`);
      result.tolerations = (entry.tolerations as unknown[]).map((toleration, i) =>
        parseToleration(read, toleration, `tag '${tag}': toleration ${i + 1}`),
      );
    }
    placement[tag] = result;
  }
  return placement;
}

function parseToleration(read: OptionReader, value: unknown, where: string): TolerationSetting {
  const flag = 'kubernetes-tag-placement';
  if (!isObject(value)) read.fail(flag, `${where} must be an object`);
  const entry = value as Record<string, unknown>;
  const unknown = Object.keys(entry).filter((key) => !TOLERATION_KEYS.has(key));
  if (unknown.length > 0) read.fail(flag, `${where} has unknown key(s) ${unknown.join(', ')}`);
  for (const key of ['key', 'value'] as const) {
    if (entry[key] !== undefined && typeof entry[key] !== 'string')
      read.fail(flag, `${where}: ${key} must be a string`);
  }
  if (entry.operator !== undefined && entry.operator !== 'Exists' && entry.operator !== 'Equal')
    read.fail(flag, `${where}: operator must be Exists or Equal`);
  if (
    entry.effect !== undefined &&
    entry.effect !== 'NoSchedule' &&
    entry.effect !== 'PreferNoSchedule' &&
    entry.effect !== 'NoExecute'
  )
    read.fail(flag, `${where}: effect must be NoSchedule, PreferNoSchedule or NoExecute`);
  if (entry.tolerationSeconds !== undefined && !Number.isInteger(entry.tolerationSeconds))
    read.fail(flag, `${where}: tolerationSeconds must be an integer`);
  return entry as TolerationSetting;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
