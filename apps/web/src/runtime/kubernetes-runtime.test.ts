import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { NODE_STORE_IN_INIT } from '@jetbridge/runtime-k8s';
import { parseWebConfig, type NodeLocalArtifactSettings } from '../config/index.js';
import { k8sArtifactsConfig, NODE_CA_CERT_IN_HOST_PATH } from './kubernetes-runtime.js';

const KEY = 'capability-key-of-at-least-32-bytes-long!';

/** node-local settings as the parser makes them from the chart's environment (plus `extra`). */
function nodeLocal(extra: NodeJS.ProcessEnv, cwd: string): NodeLocalArtifactSettings {
  const config = parseWebConfig(
    [],
    {
      JETBRIDGE_RUNTIME: 'kubernetes',
      CONCOURSE_KUBERNETES_NAMESPACE: 'steps',
      CONCOURSE_KUBERNETES_HELPER_IMAGE: 'jetbridge/jetbridge-helper:0.1.0',
      CONCOURSE_KUBERNETES_ARTIFACT_MODE: 'node-local',
      CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_PORT: '7781',
      CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_HOST_PATH: '/srv/artifacts',
      CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_CAPABILITY_KEY: KEY,
      CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_SELECTOR: 'app.kubernetes.io/component=artifact-daemon',
      CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_NAMESPACE: 'ci',
      ...extra,
    },
    cwd,
  );
  const artifacts = config.kubernetes?.artifacts;
  if (artifacts?.mode !== 'node-local') throw new Error('expected node-local settings');
  return artifacts;
}

describe('the K8sWorker artifacts settings of node-local mode', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-k8s-artifacts-'));
    await writeFile(path.join(dir, 'ca.crt'), 'not parsed here: the runtime hands it to TLS\n');
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('finds the daemons by label on their port over http, with the key and mirrors', async () => {
    const config = await k8sArtifactsConfig(
      nodeLocal({ CONCOURSE_KUBERNETES_ARTIFACT_MIRROR_REPLICAS: '2' }, dir),
    );
    expect(config).toEqual({
      mode: 'node-local',
      hostPath: '/srv/artifacts',
      daemons: {
        discover: {
          labelSelector: 'app.kubernetes.io/component=artifact-daemon',
          namespace: 'ci',
          port: 7781,
          scheme: 'http',
        },
      },
      capabilityKey: KEY,
      mirror: { replicas: 2 },
    });
  });

  it('with a CA: https, the CA read from the web’s file, step pods pointed at the copy in the node store', async () => {
    const config = await k8sArtifactsConfig(
      nodeLocal({ CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_TLS_CA_CERT: 'ca.crt' }, dir),
    );
    if (config.mode !== 'node-local') throw new Error('expected node-local');
    expect(config.daemons).toMatchObject({ discover: { scheme: 'https' } });
    expect(config.tls?.ca?.toString()).toBe('not parsed here: the runtime hands it to TLS\n');
    expect(config.tls?.caPathInPod).toBe(path.posix.join(NODE_STORE_IN_INIT, NODE_CA_CERT_IN_HOST_PATH));
  });

  it('passes a fixed node → URL map as is', async () => {
    const config = await k8sArtifactsConfig(
      nodeLocal(
        {
          CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_SELECTOR: '',
          CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_URLS: '{"node-a":"http://10.0.0.1:7781"}',
        },
        dir,
      ),
    );
    if (config.mode !== 'node-local') throw new Error('expected node-local');
    expect(config.daemons).toEqual({ 'node-a': 'http://10.0.0.1:7781' });
  });

  it('stops the start naming the flag when the CA file cannot be read', async () => {
    await expect(
      k8sArtifactsConfig(nodeLocal({ CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_TLS_CA_CERT: 'missing.crt' }, dir)),
    ).rejects.toThrow(/--kubernetes-artifact-daemon-tls-ca-cert .*cannot read .*missing\.crt/);
  });
});
