import { describe, expect, it } from '@jest/globals';
import { ConfigError, helpText, parseByteSize, parseWebConfig } from './index.js';
import { optionSpecs } from './options.js';

describe('jetbridge web configuration', () => {
  it('has Concourse defaults with nothing set: port 8080, embedded PostgreSQL, local runtime', () => {
    const config = parseWebConfig([], {}, '/srv');
    expect(config.bindPort).toBe(8080);
    expect(config.externalUrl).toBe('http://localhost:8080');
    expect(config.postgres).toBeNull();
    expect(config.dataDir).toBe('/srv/.data');
    expect(config.runtime).toBe('local');
    expect(config.localInputMode).toBe('copy');
    expect(config.authDurationMs).toBe(24 * 3600 * 1000);
    expect(parseWebConfig(['--local-input-mode', 'symlink'], {}, '/srv').localInputMode).toBe('symlink');
  });

  it('reads CONCOURSE_* environment variables, and flags win over them', () => {
    const env = {
      CONCOURSE_BIND_PORT: '9090',
      CONCOURSE_EXTERNAL_URL: 'https://ci.example.com/',
      CONCOURSE_ADD_LOCAL_USER: 'alice:secret, bob:pa:ss',
      CONCOURSE_MAIN_TEAM_LOCAL_USER: 'alice',
      CONCOURSE_POSTGRES_HOST: 'db.internal',
      CONCOURSE_POSTGRES_USER: 'ci',
      CONCOURSE_POSTGRES_DATABASE: 'concourse',
      CONCOURSE_POSTGRES_SSLMODE: 'require',
      CONCOURSE_CLUSTER_NAME: 'prod',
    };
    const config = parseWebConfig(['--bind-port', '7070', '--data-dir=/var/lib/jb'], env);
    expect(config.bindPort).toBe(7070);
    expect(config.externalUrl).toBe('https://ci.example.com');
    expect(config.localUsers).toEqual([
      { username: 'alice', password: 'secret' },
      { username: 'bob', password: 'pa:ss' },
    ]);
    expect(config.mainTeamLocalUsers).toEqual(['alice']);
    expect(config.postgres).toMatchObject({
      host: 'db.internal',
      port: 5432,
      user: 'ci',
      database: 'concourse',
      sslmode: 'require',
    });
    expect(config.clusterName).toBe('prod');
    expect(config.dataDir).toBe('/var/lib/jb');
  });

  it('reads the default step timeouts: unset or 0 is none', () => {
    expect(parseWebConfig([], {}).defaultStepTimeouts).toEqual({});
    expect(
      parseWebConfig(['--default-task-timeout', '1h30m', '--default-put-timeout', '0'], {
        CONCOURSE_DEFAULT_GET_TIMEOUT: '90s',
      }).defaultStepTimeouts,
    ).toEqual({ taskMs: 5_400_000, getMs: 90_000 });
  });

  it('accepts repeated list flags', () => {
    const config = parseWebConfig(['--add-local-user', 'a:1', '--add-local-user', 'b:2'], {});
    expect(config.localUsers.map((u) => u.username)).toEqual(['a', 'b']);
  });

  it.each([
    [['--bind-port', 'eighty'], {}, '--bind-port (CONCOURSE_BIND_PORT)'],
    [[], { CONCOURSE_BIND_PORT: '70000' }, '--bind-port (CONCOURSE_BIND_PORT)'],
    [[], { CONCOURSE_EXTERNAL_URL: 'ftp://x' }, '--external-url (CONCOURSE_EXTERNAL_URL)'],
    [[], { CONCOURSE_ADD_LOCAL_USER: 'nopassword' }, '--add-local-user (CONCOURSE_ADD_LOCAL_USER)'],
    [[], { CONCOURSE_POSTGRES_HOST: 'h', CONCOURSE_POSTGRES_SSLMODE: 'maybe' }, '--postgres-sslmode'],
    [[], { CONCOURSE_POSTGRES_HOST: 'h', CONCOURSE_POSTGRES_PORT: '-1' }, '--postgres-port'],
    [[], { CONCOURSE_AUTH_DURATION: 'forever' }, '--auth-duration'],
    [[], { CONCOURSE_LOG_LEVEL: 'loud' }, '--log-level'],
    [[], { JETBRIDGE_RUNTIME: 'docker' }, '--runtime'],
    [[], { JETBRIDGE_LOCAL_INPUT_MODE: 'hardlink' }, '--local-input-mode'],
    [[], { JETBRIDGE_MAX_ARTIFACT_UPLOAD_SIZE: 'lots' }, '--max-artifact-upload-size'],
    [[], { CONCOURSE_BUILD_TRACKER_INTERVAL: '0s' }, '--build-tracker-interval'],
    [['--default-build-logs-to-retain', '-1'], {}, '--default-build-logs-to-retain'],
    [[], { CONCOURSE_MAX_BUILD_LOGS_TO_RETAIN: 'ten' }, '--max-build-logs-to-retain'],
    [[], { CONCOURSE_DEFAULT_DAYS_TO_RETAIN_BUILD_LOGS: '1.5' }, '--default-days-to-retain-build-logs'],
    [[], { CONCOURSE_MAX_DAYS_TO_RETAIN_BUILD_LOGS: '1e3' }, '--max-days-to-retain-build-logs'],
    [[], { CONCOURSE_SECRET_RETRY_ATTEMPTS: 'many' }, '--secret-retry-attempts'],
    [[], { CONCOURSE_SECRET_RETRY_INTERVAL: '-1s' }, '--secret-retry-interval'],
    [[], { CONCOURSE_DEFAULT_TASK_TIMEOUT: 'soon' }, '--default-task-timeout'],
    [
      [],
      { CONCOURSE_ADD_LOCAL_USER: 'a:b', CONCOURSE_MAIN_TEAM_LOCAL_USER: 'zed' },
      '--main-team-local-user',
    ],
    [['--no-such-flag', 'x'], {}, "unknown flag '--no-such-flag'"],
    [['--bind-port'], {}, 'needs a value'],
  ] as Array<[string[], NodeJS.ProcessEnv, string]>)(
    'rejects %j %j naming the setting',
    (argv, env, named) => {
      expect(() => parseWebConfig(argv, env)).toThrow(ConfigError);
      expect(() => parseWebConfig(argv, env)).toThrow(named);
    },
  );

  it('never echoes a secret value in an error', () => {
    try {
      parseWebConfig([], { CONCOURSE_ADD_LOCAL_USER: 'supersecretwithoutcolon' });
      throw new Error('expected a ConfigError');
    } catch (err) {
      expect((err as Error).message).not.toContain('supersecretwithoutcolon');
    }
  });

  it('parses sizes in binary units', () => {
    expect(parseByteSize('10MB')).toBe(10 * 1024 * 1024);
    expect(parseByteSize('2gb')).toBe(2 * 1024 ** 3);
    expect(parseByteSize('512')).toBe(512);
    expect(parseByteSize('1.5K')).toBe(1536);
    expect(parseByteSize('ten')).toBeUndefined();
  });

  it('reads garbage collection periods as Go durations: 30s, 5m and 12h by default', () => {
    const defaults = parseWebConfig([], {}, '/srv');
    expect(defaults.gcIntervalMs).toBe(30_000);
    expect(defaults.gcOneOffGracePeriodMs).toBe(5 * 60_000);
    expect(defaults.gcArtifactRetentionMs).toBe(12 * 3600_000);
    const set = parseWebConfig(
      ['--gc-interval', '250ms'],
      { JETBRIDGE_GC_ARTIFACT_RETENTION: '1h30m' },
      '/srv',
    );
    expect(set.gcIntervalMs).toBe(250);
    expect(set.gcArtifactRetentionMs).toBe(90 * 60_000);
    expect(() => parseWebConfig([], { CONCOURSE_GC_INTERVAL: '30' }, '/srv')).toThrow(
      "invalid value for --gc-interval (CONCOURSE_GC_INTERVAL): '30' is not a duration (e.g. 30s)",
    );
  });

  it('reads --destroy-archived-pipelines-after: 0 (never) by default, a Go duration when set', () => {
    expect(parseWebConfig([], {}, '/srv').destroyArchivedPipelinesAfterMs).toBe(0);
    expect(
      parseWebConfig([], { CONCOURSE_DESTROY_ARCHIVED_PIPELINES_AFTER: '720h' }, '/srv')
        .destroyArchivedPipelinesAfterMs,
    ).toBe(720 * 3600_000);
    expect(() => parseWebConfig(['--destroy-archived-pipelines-after', '-1h'], {}, '/srv')).toThrow(
      "invalid value for --destroy-archived-pipelines-after (CONCOURSE_DESTROY_ARCHIVED_PIPELINES_AFTER): '-1h' is not a duration (e.g. 720h)",
    );
  });

  it('reads --resource-type-checking-interval: 1m by default, never less than --resource-checking-interval', () => {
    expect(parseWebConfig([], {}, '/srv').resourceTypeCheckingInterval).toBe('1m');
    expect(
      parseWebConfig(['--resource-type-checking-interval', '1h'], {}, '/srv').resourceTypeCheckingInterval,
    ).toBe('1h');
    // Concourse raises a type interval below the resource interval to it.
    expect(
      parseWebConfig(
        ['--resource-type-checking-interval', '30s'],
        { CONCOURSE_RESOURCE_CHECKING_INTERVAL: '2m' },
        '/srv',
      ).resourceTypeCheckingInterval,
    ).toBe('2m');
    expect(() => parseWebConfig([], { CONCOURSE_RESOURCE_TYPE_CHECKING_INTERVAL: 'soon' }, '/srv')).toThrow(
      "invalid value for --resource-type-checking-interval (CONCOURSE_RESOURCE_TYPE_CHECKING_INTERVAL): 'soon' is not a duration (e.g. 1m)",
    );
  });

  it('--help lists every option with its environment variable and default', () => {
    const text = helpText();
    for (const spec of optionSpecs) {
      expect(text).toContain(`--${spec.flag}`);
      expect(text).toContain(`$${spec.env}`);
      if ('default' in spec) expect(text).toContain(`(default: ${spec.default})`);
    }
  });
});
