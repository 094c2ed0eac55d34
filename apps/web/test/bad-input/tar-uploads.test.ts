import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { paxRecord, rawTar, type RawEntry } from './raw-tar.js';
import { describeLogLine, startBadInputServer, type BadInputServer } from './bad-input-server.js';

/**
 * `fly execute -i` uploads (POST /api/v1/teams/:team/artifacts, a gzipped tar) built to hurt: traversal,
 * absolute names, symlinks and hard links out of the artifact, writes through a symlink, lying and huge
 * headers, truncation, gzip bombs — one by one, then random archives from fast-check. Each must be refused
 * with a 4xx (or stored harmlessly), never a 5xx; nothing may appear in, or be read from, a canary directory
 * outside the store; and the server must keep answering.
 */
let s: BadInputServer;
let canary: string;
const SECRET = 'canary-secret-7f3a9c';
const LIMIT_BYTES = 2 * 1024 * 1024;

beforeAll(async () => {
  s = await startBadInputServer({ env: { JETBRIDGE_MAX_ARTIFACT_UPLOAD_SIZE: '2MB' } });
  canary = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-canary-'));
  await mkdir(path.join(canary, 'dir'));
  await writeFile(path.join(canary, 'secret.txt'), SECRET);
}, 120_000);

afterAll(async () => {
  await s?.destroy();
  if (canary) await rm(canary, { recursive: true, force: true });
});

async function upload(body: Buffer): Promise<{ status: number; text: string; id?: number }> {
  const answer = await s.send('POST', '/api/v1/teams/main/artifacts', {
    token: s.admin,
    headers: { 'content-type': 'application/octet-stream' },
    body,
  });
  const id = answer.status === 201 ? (JSON.parse(answer.body) as { id: number }).id : undefined;
  return { status: answer.status, text: answer.body, ...(id === undefined ? {} : { id }) };
}

/** The artifact as `fly execute -o` would download it, un-gzipped (a tar). */
async function download(id: number): Promise<Buffer> {
  const response = await fetch(`${s.ts.url}/api/v1/teams/main/artifacts/${id}`, {
    headers: { authorization: `Bearer ${s.admin}` },
  });
  expect(response.status).toBe(200);
  return gunzipSync(Buffer.from(await response.arrayBuffer()));
}

/** The canary directory exactly as created: nothing written into it, nothing replaced. */
async function expectCanaryUntouched(): Promise<void> {
  expect((await readdir(canary)).sort()).toEqual(['dir', 'secret.txt']);
  expect(await readdir(path.join(canary, 'dir'))).toEqual([]);
  expect(await readFile(path.join(canary, 'secret.txt'), 'utf8')).toBe(SECRET);
}

/** An upload of a hostile archive: refused with a 4xx, or stored without reaching or leaking the canary. */
async function expectHarmless(archive: Buffer): Promise<{ status: number; text: string }> {
  const result = await upload(archive);
  expect(result.status).toBeLessThan(500);
  if (result.id !== undefined) expect((await download(result.id)).includes(SECRET)).toBe(false);
  await expectCanaryUntouched();
  return result;
}

const file = (name: string, content = 'x'): RawEntry => ({ name, type: '0', content: Buffer.from(content) });
const climb = () => `${'../'.repeat(24)}${canary.slice(1)}`;

describe('the raw tar writer itself', () => {
  it('writes archives the server accepts and gives back (the hostile cases below are not vacuous)', async () => {
    const long = `${'deep/'.repeat(30)}file.txt`;
    const result = await upload(
      gzipSync(
        rawTar([
          { name: 'dir', type: '5' },
          file('dir/hello.txt', 'hello from a raw tar'),
          file(long, 'long name via pax'),
          { name: 'dir/link', type: '2', linkname: 'hello.txt' },
        ]),
      ),
    );
    expect(result.status).toBe(201);
    const tar = await download(result.id as number);
    expect(tar.includes('hello from a raw tar')).toBe(true);
    expect(tar.includes('long name via pax')).toBe(true);
  });
});

describe('hostile archives, one by one', () => {
  it.each<[string, () => RawEntry[]]>([
    ['a name climbing out with ..', () => [file(`${climb()}/dir/pwned`)]],
    ['an absolute name', () => [file(`${canary}/dir/pwned`)]],
    [
      'a dot-dot hidden in the middle',
      () => [{ name: 'a', type: '5' }, file(`a/../../../../../../../../..${canary}/dir/pwned`)],
    ],
    [
      'a symlink out, then a write through it',
      () => [{ name: 'out', type: '2', linkname: canary }, file('out/dir/pwned')],
    ],
    [
      'a relative symlink out, then a write through it',
      () => [{ name: 'out', type: '2', linkname: climb() }, file('out/dir/pwned')],
    ],
    [
      'a hard link to a file outside (absolute)',
      () => [{ name: 'h', type: '1', linkname: `${canary}/secret.txt` }],
    ],
    [
      'a hard link to a file outside (relative)',
      () => [{ name: 'h', type: '1', linkname: `${climb()}/secret.txt` }],
    ],
    [
      'a hard link through a symlink out',
      () => [
        { name: 'out', type: '2', linkname: canary },
        { name: 'h', type: '1', linkname: 'out/secret.txt' },
      ],
    ],
    [
      'a symlink replaced by a directory of the same name, then a write',
      () => [{ name: 'd', type: '2', linkname: canary }, { name: 'd', type: '5' }, file('d/dir/pwned')],
    ],
    // tar-stream never ended the data stream of such an entry: the upload hung (fixed in archive-entry-writer).
    [
      'a directory entry that claims data',
      () => [{ name: 'd', type: '5', content: Buffer.from([0]) }, file('after')],
    ],
    ['a device node', () => [{ name: 'null', type: '3' }]],
    ['a fifo', () => [{ name: 'pipe', type: '6' }]],
    ['a NUL in a name', () => [file('a\u0000/../../x')]],
  ])('%s', async (_name, entries) => {
    await expectHarmless(gzipSync(rawTar(entries())));
  });

  it('a header claiming 8 GB with 1 KB behind it (truncated): a 4xx', async () => {
    const archive = rawTar([{ ...file('big'), content: Buffer.alloc(1024, 1), sizeField: '77777777777\0' }], {
      end: false,
    });
    const result = await expectHarmless(gzipSync(archive));
    expect(result.status).toBeGreaterThanOrEqual(400);
  });

  it('a pax header whose size is absurd, and one whose record length lies', async () => {
    for (const pax of [
      paxRecord('size', '99999999999999999999'),
      '999999999 path=x\n',
      '3 x\n',
      paxRecord('path', '../../x'),
    ]) {
      const archive = rawTar([{ name: 'PaxHeader', type: 'x', content: Buffer.from(pax) }, file('after')]);
      expect((await expectHarmless(gzipSync(archive))).status).toBeLessThan(500);
    }
  });

  it('a GNU long name of 100 MB that is not there, and a huge long link name', async () => {
    await expectHarmless(
      gzipSync(
        rawTar(
          [
            {
              name: '././@LongLink',
              type: 'L',
              content: Buffer.alloc(10),
              sizeField: octalSize(100 * 1024 * 1024),
            },
          ],
          { end: false },
        ),
      ),
    );
    await expectHarmless(
      gzipSync(
        rawTar([
          { name: '././@LongLink', type: 'K', content: Buffer.from('a'.repeat(70_000)) },
          { name: 'l', type: '2' },
        ]),
      ),
    );
  });

  it('a broken header checksum, garbage, and a tar that is not gzipped: 4xx', async () => {
    expect(
      (await expectHarmless(gzipSync(rawTar([{ ...file('a'), badChecksum: true }])))).status,
    ).toBeGreaterThanOrEqual(400);
    expect((await expectHarmless(Buffer.from('definitely not a tarball'))).status).toBeGreaterThanOrEqual(
      400,
    );
    expect((await expectHarmless(rawTar([file('plain.txt')]))).status).toBeGreaterThanOrEqual(400);
  });

  it('truncation anywhere in a valid upload: a 4xx, never a half-stored artifact', async () => {
    const whole = gzipSync(rawTar([file('a.txt', 'a'.repeat(5000)), file('b.txt', 'b'.repeat(5000))]));
    for (const cut of [10, whole.length / 3, whole.length / 2, whole.length - 8, whole.length - 1]) {
      const result = await expectHarmless(whole.subarray(0, Math.floor(cut)));
      expect(result.status).toBeGreaterThanOrEqual(400);
    }
  });

  it('a gzip bomb (64 MB of zeros in ~64 KB) is stopped at the upload limit with 413', async () => {
    const bomb = gzipSync(rawTar([{ name: 'zeros', type: '0', content: Buffer.alloc(64 * 1024 * 1024) }]), {
      level: 9,
    });
    expect(bomb.length).toBeLessThan(LIMIT_BYTES / 4);
    const result = await expectHarmless(bomb);
    expect(result.status).toBe(413);
    expect(await s.alive()).toBe(true);
  });
});

function octalSize(size: number): string {
  return `${size.toString(8).padStart(11, '0')}\0`;
}

describe('random archives (fast-check)', () => {
  const segment = fc.oneof(
    fc.constantFrom('..', '.', '', 'a', 'dir', 'secret.txt', 'dir/pwned', canaryPlaceholder()),
    fc.string({ minLength: 1, maxLength: 12 }),
  );
  const pathArb = fc
    .tuple(fc.boolean(), fc.array(segment, { minLength: 1, maxLength: 6 }))
    .map(([absolute, parts]) => withCanary(`${absolute ? '/' : ''}${parts.join('/')}`));
  const entryArb: fc.Arbitrary<RawEntry> = fc.record({
    name: pathArb,
    type: fc.constantFrom('0', '0', '5', '2', '1', '6', '3', 'x', 'L', 'g', '7', 'Z'),
    content: fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
    linkname: pathArb,
    mode: fc.constantFrom(0o644, 0o755, 0o777, 0o4755, 0o000, 0o7777),
  });

  it('are refused or stored harmlessly: never a 5xx, the canary untouched, the server alive', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(entryArb, { minLength: 1, maxLength: 6 }),
        fc.option(fc.nat(), { nil: undefined }),
        async (entries, cut) => {
          let archive = rawTar(entries);
          if (cut !== undefined) archive = archive.subarray(0, cut % (archive.length + 1));
          const result = await upload(gzipSync(archive));
          if (result.status >= 500) throw new Error(`${result.status}: ${result.text.slice(0, 200)}`);
          if (result.id !== undefined && (await download(result.id)).includes(SECRET))
            throw new Error('the canary secret came back in a download');
          await expectCanaryUntouched();
          return true;
        },
      ),
      { numRuns: Number(process.env.JETBRIDGE_FUZZ_RUNS ?? 150) },
    );
    expect(await s.alive()).toBe(true);
  }, 600_000);

  it('wrote no error-level log line', () => {
    expect(s.errorLogs().map(describeLogLine)).toEqual([]);
  });
});

/** The canary's absolute path is only known once the suite runs: a placeholder replaced at run time. */
function canaryPlaceholder(): string {
  return '<CANARY>';
}

function withCanary(text: string): string {
  return text.replaceAll('<CANARY>', canary ? canary.slice(1) : 'tmp');
}
