import { describe, expect, it } from '@jest/globals';
import { ConfigError, parseWebConfig } from '../config/index.js';
import { createCredentialManager } from './credentials-config.js';

// The credential flags as Concourse names them, parsed with the rest of the web's settings.
describe('credential manager settings', () => {
  it('are off by default, with Concourse’s defaults for the prefix and the cache', () => {
    expect(parseWebConfig([], {}).credentials).toEqual({});
  });

  it('read the Kubernetes manager and the cache from flags or the environment', () => {
    const config = parseWebConfig(
      ['--kubernetes-config-path', 'kube/config', '--secret-cache-duration-notfound', '3s'],
      { CONCOURSE_SECRET_CACHE_ENABLED: 'true', CONCOURSE_KUBERNETES_NAMESPACE_PREFIX: 'ci-' },
      '/srv',
    );
    expect(config.credentials).toEqual({
      kubernetes: { inCluster: false, configPath: '/srv/kube/config', namespacePrefix: 'ci-' },
      secretCache: { durationMs: 60_000, notFoundDurationMs: 3_000, purgeIntervalMs: 600_000 },
    });
    expect(parseWebConfig(['--kubernetes-in-cluster', 'true'], {}).credentials.kubernetes).toEqual({
      inCluster: true,
      namespacePrefix: 'concourse-',
    });
  });

  it('refuse contradictions and bad values, naming the flag', () => {
    expect(() =>
      parseWebConfig(['--kubernetes-in-cluster', 'true', '--kubernetes-config-path', 'x'], {}),
    ).toThrow(
      new ConfigError(
        'invalid value for --kubernetes-config-path (CONCOURSE_KUBERNETES_CONFIG_PATH): either in-cluster or config-path can be used, not both',
      ),
    );
    expect(() =>
      parseWebConfig(['--kubernetes-in-cluster', 'true', '--credentials-file', 'creds.yml'], {}),
    ).toThrow(/--credentials-file .*use one credential manager/);
    expect(() => parseWebConfig(['--secret-cache-duration', 'soon'], {})).toThrow(
      /--secret-cache-duration \(CONCOURSE_SECRET_CACHE_DURATION\): 'soon' is not a duration/,
    );
    expect(() => parseWebConfig(['--kubernetes-in-cluster', 'yes'], {})).toThrow(
      /--kubernetes-in-cluster .*'yes' is not one of true, false/,
    );
  });

  it('name the flag when the kubeconfig cannot be loaded', () => {
    const config = parseWebConfig(['--kubernetes-config-path', '/nonexistent/kubeconfig'], {});
    expect(() => createCredentialManager(config)).toThrow(
      /^kubernetes credential manager \(--kubernetes-config-path\): .*\/nonexistent\/kubeconfig/,
    );
  });
});
