import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  FileCredentialManager,
  interpolateString,
  MissingVarSourceError,
  NonPrimitiveVarError,
  pipelineVarsResolver,
  resolveStaticVars,
  StaticCredentialManager,
  UndefinedVarError,
  UnsupportedVarSourceError,
} from './index.js';

describe('StaticCredentialManager', () => {
  const manager = new StaticCredentialManager({
    'main/p/password': 'pipeline-scoped',
    'main/password': 'team-scoped',
    'main/registry': { username: 'bot', password: 's3cret' },
  });

  it('looks in the pipeline, then the team (Vault’s default lookup paths)', async () => {
    expect(await manager.lookup({ teamName: 'main', pipelineName: 'p' }, 'password')).toEqual({
      value: 'pipeline-scoped',
    });
    expect(await manager.lookup({ teamName: 'main', pipelineName: 'q' }, 'password')).toEqual({
      value: 'team-scoped',
    });
    expect(await manager.lookup({ teamName: 'main' }, 'password')).toEqual({ value: 'team-scoped' });
    expect(await manager.lookup({ teamName: 'other', pipelineName: 'p' }, 'password')).toBeUndefined();
  });

  it('backs a pipeline’s vars resolver; a source prefix is ignored without var_sources', async () => {
    const vars = pipelineVarsResolver(manager, { teamName: 'main', pipelineName: 'p' });
    expect(await vars.lookup({ path: 'registry' })).toEqual({
      value: { username: 'bot', password: 's3cret' },
    });
    expect(await vars.lookup({ source: 'vault', path: 'password' })).toEqual({ value: 'pipeline-scoped' });
    const withSources = pipelineVarsResolver(manager, { teamName: 'main', varSources: ['vault'] });
    await expect(withSources.lookup({ source: 's3', path: 'x' })).rejects.toThrow(
      new MissingVarSourceError('s3', 's3:x'),
    );
  });

  it('interpolates strings such as webhook tokens', async () => {
    const vars = pipelineVarsResolver(manager, { teamName: 'main', pipelineName: 'p' });
    expect(await interpolateString('t-((password))-((registry.username))', vars)).toBe(
      't-pipeline-scoped-bot',
    );
    await expect(interpolateString('((nope))', vars)).rejects.toThrow(new UndefinedVarError(['nope']));
  });
});

describe('FileCredentialManager', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-creds-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads YAML and re-reads it when it changes', async () => {
    const file = path.join(dir, 'creds.yml');
    await writeFile(file, 'main/token: one\n');
    const manager = new FileCredentialManager(file);
    expect(await manager.lookup({ teamName: 'main' }, 'token')).toEqual({ value: 'one' });
    await writeFile(file, 'main/token: two\n');
    const later = new Date(Date.now() + 5000);
    await utimes(file, later, later);
    expect(await manager.lookup({ teamName: 'main' }, 'token')).toEqual({ value: 'two' });
  });

  it('fails lookups when the file is missing or not a map', async () => {
    await expect(
      new FileCredentialManager(path.join(dir, 'absent.yml')).lookup({ teamName: 'main' }, 'x'),
    ).rejects.toThrow(/credentials file .*absent\.yml/);
    const list = path.join(dir, 'list.yml');
    await writeFile(list, '- a\n- b\n');
    await expect(new FileCredentialManager(list).lookup({ teamName: 'main' }, 'x')).rejects.toThrow(
      'must be a map of secret paths to values',
    );
  });
});

describe('resolveStaticVars', () => {
  it('takes the first var set that defines a var, keeps types, and leaves unknown vars', () => {
    const doc = {
      jobs: [
        {
          name: '((name))',
          plan: [{ task: 't', params: { N: '((count))', L: 'x-((count))-y', U: '((unknown))' } }],
        },
      ],
      '((key))': '((nested.field))',
    };
    const rendered = resolveStaticVars(doc, [
      { name: 'from-instance-vars' },
      { name: 'from-vars', count: 3, key: 'k' },
      { nested: { field: true } },
    ]);
    expect(rendered).toEqual({
      jobs: [
        { name: 'from-instance-vars', plan: [{ task: 't', params: { N: 3, L: 'x-3-y', U: '((unknown))' } }] },
      ],
      k: true,
    });
  });

  it('refuses a map inside a longer string', () => {
    expect(() => resolveStaticVars('a-((m))', [{ m: { x: 1 } }])).toThrow(NonPrimitiveVarError);
  });
});

describe('pipeline var_sources', () => {
  const cluster = new StaticCredentialManager({
    'main/dummy-suffix': 'from-cluster',
    'main/plain': 'global',
  });
  const varSources = [
    // Declared before the source it depends on: set up in dependency order.
    { name: 'second', type: 'dummy', config: { vars: { chained: '((first:base))-((dummy-suffix))' } } },
    {
      name: 'first',
      type: 'dummy',
      config: {
        vars: {
          'main/p/scoped': 'pipeline-scoped',
          'main/scoped': 'team-scoped',
          base: 'root',
          creds: { user: 'bot' },
        },
      },
    },
    { name: 'vault', type: 'vault', config: { url: 'https://vault.example' } },
  ];
  const vars = pipelineVarsResolver(cluster, { teamName: 'main', pipelineName: 'p', varSources });

  it('reads a dummy source by its lookup paths, the root path included', async () => {
    expect(await vars.lookup({ source: 'first', path: 'scoped' })).toEqual({ value: 'pipeline-scoped' });
    expect(await vars.lookup({ source: 'first', path: 'creds' })).toEqual({ value: { user: 'bot' } });
    expect(await interpolateString('user=((first:creds.user))', vars)).toBe('user=bot');
    expect(await vars.lookup({ source: 'first', path: 'nope' })).toBeUndefined();
    const oneOff = pipelineVarsResolver(cluster, { teamName: 'main', varSources });
    expect(await oneOff.lookup({ source: 'first', path: 'scoped' })).toEqual({ value: 'team-scoped' });
  });

  it('interpolates a source’s config with the cluster manager and the sources before it', async () => {
    expect(await vars.lookup({ source: 'second', path: 'chained' })).toEqual({ value: 'root-from-cluster' });
  });

  it('keeps plain refs on the cluster manager and refuses undeclared sources', async () => {
    expect(await vars.lookup({ path: 'plain' })).toEqual({ value: 'global' });
    await expect(vars.lookup({ source: 'other', path: 'x' })).rejects.toThrow(
      "missing source 'other' in var: other:x",
    );
    await expect(vars.lookup({ source: '.', path: 'x' })).rejects.toThrow("missing source '.' in var: .:x");
  });

  it('says which declared sources JetBridge cannot read', async () => {
    await expect(vars.lookup({ source: 'vault', path: 'x' })).rejects.toThrow(
      new UnsupportedVarSourceError('vault', 'vault'),
    );
  });

  it('errors when a source’s config needs a var nobody has', async () => {
    const broken = pipelineVarsResolver(cluster, {
      teamName: 'main',
      varSources: [{ name: 'd', type: 'dummy', config: { vars: { x: '((missing))' } } }],
    });
    await expect(broken.lookup({ source: 'd', path: 'x' })).rejects.toThrow(
      "evaluate var_source 'd' error: undefined vars: missing",
    );
  });
});
