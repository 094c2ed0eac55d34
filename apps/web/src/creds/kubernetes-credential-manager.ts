// Secrets from Kubernetes (Concourse's atc/creds/kubernetes): `((name))` of a build in team T and pipeline P
// is the Secret `P.name` in namespace `<prefix>T`, else the Secret `name` there (one-off builds: only the
// latter). A Secret with a `value` key is that string; otherwise it is the map of all its keys, so
// `((name.field))` reads key `field`.
//
// @example
//   kubectl -n concourse-main create secret generic my-pipeline.db-password --from-literal=value=hunter2
//   kubectl -n concourse-main create secret generic registry --from-literal=username=bot --from-literal=password=s3cret
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { CredentialManager, SecretLookupContext } from './credential-manager.js';

/** Concourse's `--kubernetes-namespace-prefix` default. */
export const DEFAULT_NAMESPACE_PREFIX = 'concourse-';

/** A Secret's `data` with values decoded to UTF-8 strings, or undefined when it does not exist. */
export type SecretReader = (namespace: string, name: string) => Promise<Record<string, string> | undefined>;

/** A var name that makes no `<namespace>/<secret>` path (it contains `/`), as Concourse refuses it. */
export class KubernetesSecretPathError extends Error {
  constructor(secretPath: string) {
    super(`unable to split kubernetes secret path into [namespace]/[secret]: ${secretPath}`);
    this.name = 'KubernetesSecretPathError';
  }
}

export interface KubernetesCredentialManagerOptions {
  readSecret: SecretReader;
  /** Prepended to the team name to make the namespace; default `concourse-`. */
  namespacePrefix?: string;
}

export class KubernetesCredentialManager implements CredentialManager {
  private readonly readSecret: SecretReader;
  private readonly namespacePrefix: string;

  constructor(options: KubernetesCredentialManagerOptions) {
    this.readSecret = options.readSecret;
    this.namespacePrefix = options.namespacePrefix ?? DEFAULT_NAMESPACE_PREFIX;
  }

  /** `<namespace>/<secret>` paths tried for `name`, most specific first. */
  secretPaths(context: SecretLookupContext, name: string): string[] {
    const namespace = `${this.namespacePrefix}${context.teamName}`;
    const paths: string[] = [];
    if (context.pipelineName !== undefined && context.pipelineName !== '') {
      paths.push(`${namespace}/${context.pipelineName}.${name}`);
    }
    paths.push(`${namespace}/${name}`);
    return paths;
  }

  async lookup(context: SecretLookupContext, name: string): Promise<{ value: unknown } | undefined> {
    for (const secretPath of this.secretPaths(context, name)) {
      const parts = secretPath.split('/');
      if (parts.length !== 2) throw new KubernetesSecretPathError(secretPath);
      const data = await this.readSecret(parts[0] ?? '', parts[1] ?? '');
      if (data === undefined) continue;
      if (Object.hasOwn(data, 'value')) return { value: data['value'] };
      return { value: { ...data } };
    }
    return undefined;
  }
}

/** Reading a Secret failed; `retryable` when the API server could not be reached (not when it answered). */
export class KubernetesSecretReadError extends Error {
  constructor(
    namespace: string,
    name: string,
    reason: string,
    readonly retryable: boolean,
  ) {
    super(`failed to read kubernetes secret ${namespace}/${name}: ${reason}`);
    this.name = 'KubernetesSecretReadError';
  }
}

/** Connection-level failures worth another try (as Concourse's retryhttp retryer sees them). */
const NETWORK_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

function isNetworkError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, type } = error as { code?: unknown; type?: unknown };
  return type === 'system' || (typeof code === 'string' && NETWORK_ERROR_CODES.has(code));
}

/** The status code of a client-node ApiException (or of anything shaped like one). */
function statusCode(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  const code = (error as { code: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

/** A SecretReader over the Kubernetes API; a missing Secret (404) is undefined, other failures reject. */
export function kubernetesSecretReader(kubeConfig: KubeConfig): SecretReader {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  return async (namespace, name) => {
    try {
      const secret = await core.readNamespacedSecret({ namespace, name });
      const data: Record<string, string> = {};
      for (const [key, encoded] of Object.entries(secret.data ?? {})) {
        data[key] = Buffer.from(encoded, 'base64').toString('utf8');
      }
      return data;
    } catch (error) {
      const status = statusCode(error);
      if (status === 404) return undefined;
      // Never the response body: it could carry the Secret.
      const reason = status === undefined ? (error as Error).message : `HTTP ${status}`;
      throw new KubernetesSecretReadError(namespace, name, reason, isNetworkError(error));
    }
  };
}

/** `--kubernetes-in-cluster` or `--kubernetes-config-path` (exactly one), as Concourse's manager takes them. */
export function loadKubeConfig(options: { inCluster: boolean; configPath?: string }): KubeConfig {
  const hasPath = options.configPath !== undefined && options.configPath !== '';
  if (options.inCluster && hasPath) {
    throw new Error('either in-cluster or config-path can be used, not both');
  }
  const kubeConfig = new KubeConfig();
  if (options.inCluster) kubeConfig.loadFromCluster();
  else if (hasPath) kubeConfig.loadFromFile(options.configPath as string);
  else throw new Error('the kubernetes credential manager needs in-cluster or config-path');
  return kubeConfig;
}
