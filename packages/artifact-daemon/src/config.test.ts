import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { DAEMON_ENV, parseDaemonConfig } from './config.js';

const KEY = 'k'.repeat(40);

describe('daemon configuration', () => {
  it('accepts exactly what the Helm chart passes: the artifact-daemon argument and its env', () => {
    const template = readFileSync(
      new URL('../../../deploy/chart/templates/artifact-daemon.yaml', import.meta.url),
      'utf8',
    );
    const envNames = [...template.matchAll(/- name: (CONCOURSE_[A-Z_]+)/g)].map((match) => match[1]);
    expect(envNames.length).toBeGreaterThan(0);
    const known: string[] = Object.values(DAEMON_ENV);
    for (const name of envNames) expect(known).toContain(name);
    const args = JSON.parse(/args: (\[.*\])/.exec(template)?.[1] ?? '[]') as string[];
    const config = parseDaemonConfig(args, {
      CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_PORT: '7780',
      CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_HOST_PATH: '/var/lib/jetbridge-artifacts',
      CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_CAPABILITY_KEY: KEY,
    });
    expect(config).toMatchObject({
      port: 7780,
      hostPath: '/var/lib/jetbridge-artifacts',
      ttlMs: 2 * 3600_000,
    });
  });

  it('flags win over the environment, durations are Go durations', () => {
    const config = parseDaemonConfig(
      ['--port=9000', '--ttl', '90m', '--host-path=/x', `--capability-key=${KEY}`],
      {
        CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_PORT: '7780',
        NODE_NAME: 'node-1',
      },
    );
    expect(config).toMatchObject({ port: 9000, ttlMs: 90 * 60_000, hostPath: '/x', nodeName: 'node-1' });
  });

  it('refuses to start without a strong key, and names the flag of a bad value', () => {
    expect(() => parseDaemonConfig(['--host-path=/x'], {})).toThrow(/--capability-key .*required/);
    expect(() => parseDaemonConfig(['--host-path=/x', '--capability-key=short'], {})).toThrow(
      /at least 32 bytes/,
    );
    expect(() =>
      parseDaemonConfig(['--host-path=/x', `--capability-key=${KEY}`, '--port=99999'], {}),
    ).toThrow(/--port/);
    expect(() => parseDaemonConfig(['--host-path=/x', `--capability-key=${KEY}`, '--ttl=1d'], {})).toThrow(
      /--ttl .*unknown unit/,
    );
    expect(() =>
      parseDaemonConfig(['--host-path=/x', `--capability-key=${KEY}`, '--tls-cert=/c'], {}),
    ).toThrow(/go together/);
    expect(() => parseDaemonConfig(['--bogus'], {})).toThrow(/unknown argument/);
    expect(() => parseDaemonConfig([`--capability-key=${KEY}`], {})).toThrow(/--host-path/);
  });
});
