// The two PostgreSQL pools' sizes: Concourse's --api-max-conns / --backend-max-conns (10 and 50), and
// JetBridge's older --postgres-max-conns kept as a deprecated alias of the backend's.
import { describe, expect, it } from '@jest/globals';
import { embeddedPostgresMaxConnections } from '../database-pools.js';
import { ConfigError, helpText, parseWebConfig } from './index.js';

const parse = (argv: string[], env: NodeJS.ProcessEnv = {}) => parseWebConfig(argv, env, '/srv');

describe('database pool sizes', () => {
  it("are Concourse's defaults with nothing set: api 10, backend 50, nothing deprecated", () => {
    const config = parse([]);
    expect(config.apiMaxConnections).toBe(10);
    expect(config.backendMaxConnections).toBe(50);
    expect(config.deprecations).toBeUndefined();
  });

  it('are read from the flags and from CONCOURSE_API_MAX_CONNS / CONCOURSE_BACKEND_MAX_CONNS; flags win', () => {
    const env = { CONCOURSE_API_MAX_CONNS: '4', CONCOURSE_BACKEND_MAX_CONNS: '120' };
    expect(parse([], env)).toMatchObject({ apiMaxConnections: 4, backendMaxConnections: 120 });
    expect(parse(['--api-max-conns', '7', '--backend-max-conns=9'], env)).toMatchObject({
      apiMaxConnections: 7,
      backendMaxConnections: 9,
    });
  });

  it.each([
    ['api-max-conns', 'CONCOURSE_API_MAX_CONNS'],
    ['backend-max-conns', 'CONCOURSE_BACKEND_MAX_CONNS'],
    ['postgres-max-conns', 'CONCOURSE_POSTGRES_MAX_CONNS'],
  ])('refuse a --%s that is not a positive integer, naming the flag and %s', (flag, env) => {
    for (const bad of ['0', '-3', '2.5', 'ten', ' ', '1e3', '99999999999999999999']) {
      const fromFlag = () => parse([`--${flag}`, bad]);
      expect(fromFlag).toThrow(ConfigError);
      expect(fromFlag).toThrow(`invalid value for --${flag} (${env}): '${bad}' is not a positive integer`);
      // An empty environment variable is unset (the chart renders none); anything else is checked too.
      if (bad.trim() !== '') expect(() => parse([], { [env]: bad })).toThrow(`--${flag} (${env})`);
    }
  });

  it('take --postgres-max-conns, deprecated, as the backend pool size, with a warning naming both flags', () => {
    for (const config of [
      parse(['--postgres-max-conns', '25']),
      parse([], { CONCOURSE_POSTGRES_MAX_CONNS: '25' }),
    ]) {
      expect(config.apiMaxConnections).toBe(10);
      expect(config.backendMaxConnections).toBe(25);
      expect(config.deprecations).toHaveLength(1);
      const [warning] = config.deprecations ?? [];
      expect(warning).toContain('--postgres-max-conns');
      expect(warning).toContain('--api-max-conns');
      expect(warning).toContain('--backend-max-conns');
    }
  });

  it('let --backend-max-conns win over the deprecated alias, and say the alias is ignored', () => {
    const config = parse(['--backend-max-conns', '30'], { CONCOURSE_POSTGRES_MAX_CONNS: '25' });
    expect(config.backendMaxConnections).toBe(30);
    expect(config.deprecations).toEqual([expect.stringContaining('ignored')]);
  });

  it('are in --help, the alias marked deprecated', () => {
    const help = helpText();
    expect(help).toContain('--api-max-conns');
    expect(help).toContain('[$CONCOURSE_API_MAX_CONNS]');
    expect(help).toContain('(default: 10)');
    expect(help).toContain('[$CONCOURSE_BACKEND_MAX_CONNS]');
    expect(help).toMatch(/--postgres-max-conns[^\n]*\n\s+Deprecated/);
  });

  it("size the embedded PostgreSQL's max_connections for both pools full plus headroom, never under 100", () => {
    expect(embeddedPostgresMaxConnections({ apiMaxConnections: 10, backendMaxConnections: 50 })).toBe(100);
    const big = { apiMaxConnections: 40, backendMaxConnections: 200 };
    expect(embeddedPostgresMaxConnections(big)).toBeGreaterThan(240);
  });
});
