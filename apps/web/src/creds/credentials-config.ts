// The credential manager settings (Concourse's `--kubernetes-*` credential flags and `--secret-cache-*`),
// read through the web's option parser, and the one credential manager they make.
import path from 'node:path';
import type { OptionReader } from '../config/kubernetes.js';
import { CachedCredentialManager } from './cached-credential-manager.js';
import { noCredentials, type CredentialManager } from './credential-manager.js';
import {
  DEFAULT_NAMESPACE_PREFIX,
  KubernetesCredentialManager,
  kubernetesSecretReader,
  loadKubeConfig,
} from './kubernetes-credential-manager.js';
import {
  DEFAULT_SECRET_RETRY,
  RetryingCredentialManager,
  type SecretRetryOptions,
} from './retrying-credential-manager.js';
import { FileCredentialManager } from './static-credential-manager.js';

export interface CredentialSettings {
  /** Secrets in Kubernetes: set when `--kubernetes-in-cluster` or `--kubernetes-config-path` is. */
  kubernetes?: { inCluster: boolean; configPath?: string; namespacePrefix: string };
  /** `--secret-cache-enabled`: the cache's durations; undefined when disabled. */
  secretCache?: { durationMs: number; notFoundDurationMs: number; purgeIntervalMs: number };
}

export function parseCredentialSettings(read: OptionReader, cwd: string): CredentialSettings {
  const inCluster = read.oneOf('kubernetes-in-cluster', ['true', 'false'] as const) === 'true';
  const configText = read.get('kubernetes-config-path')?.trim();
  const configPath = configText ? path.resolve(cwd, configText) : undefined;
  if (inCluster && configPath !== undefined) {
    read.fail('kubernetes-config-path', 'either in-cluster or config-path can be used, not both');
  }
  if ((inCluster || configPath !== undefined) && read.get('credentials-file')?.trim()) {
    read.fail('credentials-file', 'use one credential manager: the kubernetes one or the credentials file');
  }
  const namespacePrefix = read.get('kubernetes-namespace-prefix') ?? DEFAULT_NAMESPACE_PREFIX;
  const cacheEnabled = read.oneOf('secret-cache-enabled', ['true', 'false'] as const) === 'true';
  // Durations are checked whether or not the cache is on: a bad value is a mistake either way.
  const secretCache = {
    durationMs: read.positiveDuration('secret-cache-duration', '1m'),
    notFoundDurationMs: read.positiveDuration('secret-cache-duration-notfound', '10s'),
    purgeIntervalMs: read.positiveDuration('secret-cache-purge-interval', '10m'),
  };
  return {
    ...(inCluster || configPath !== undefined
      ? {
          kubernetes: {
            inCluster,
            ...(configPath === undefined ? {} : { configPath }),
            namespacePrefix,
          },
        }
      : {}),
    ...(cacheEnabled ? { secretCache } : {}),
  };
}

/**
 * The cluster's credential manager: Kubernetes secrets when configured, else the credentials file, else
 * none (Concourse allows one manager; JetBridge refuses both at start). Lookups that cannot reach the store
 * are retried (`--secret-retry-attempts`/`--secret-retry-interval`, by default Concourse's 5 attempts 1s apart);
 * answers are cached when the cache is enabled.
 */
export function createCredentialManager(settings: {
  credentials: CredentialSettings;
  credentialsFile?: string;
  secretRetry?: SecretRetryOptions;
}): CredentialManager {
  const { kubernetes, secretCache } = settings.credentials;
  let manager: CredentialManager = noCredentials;
  if (kubernetes !== undefined) {
    let kubeConfig: ReturnType<typeof loadKubeConfig>;
    try {
      kubeConfig = loadKubeConfig(kubernetes);
    } catch (error) {
      const flag = kubernetes.inCluster ? '--kubernetes-in-cluster' : '--kubernetes-config-path';
      throw new Error(`kubernetes credential manager (${flag}): ${(error as Error).message}`);
    }
    manager = new KubernetesCredentialManager({
      readSecret: kubernetesSecretReader(kubeConfig),
      namespacePrefix: kubernetes.namespacePrefix,
    });
  } else if (settings.credentialsFile !== undefined) {
    manager = new FileCredentialManager(settings.credentialsFile);
  }
  if (manager === noCredentials) return manager;
  // As Concourse layers them: retries around the manager, the cache around both.
  manager = new RetryingCredentialManager(manager, settings.secretRetry ?? DEFAULT_SECRET_RETRY);
  if (secretCache === undefined) return manager;
  return new CachedCredentialManager(manager, secretCache);
}
