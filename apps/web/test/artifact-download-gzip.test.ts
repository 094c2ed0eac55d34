// Downloads store what does not compress (see src/artifacts/adaptive-gzip.ts): the gzip stream then mixes
// stored and compressed deflate blocks. The real fly CLI (Go's gzip reader) and the system tar must read it
// byte for byte, for an output holding random bytes and text alike.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FlyCli, FLY_SKIP_REASON, flyAvailable } from './fly-cli.js';
import { ADMIN, startTestServer, type TestServer } from './harness.js';

const describeWithFly = flyAvailable ? describe : describe.skip;

describeWithFly(
  `fly execute -o with a partly incompressible output${flyAvailable ? '' : ` [skipped: ${FLY_SKIP_REASON}]`}`,
  () => {
    let server: TestServer;
    let fly: FlyCli;
    let scratch: string;

    beforeAll(async () => {
      server = await startTestServer();
      fly = await FlyCli.login(server.url, ADMIN);
      scratch = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-download-gzip-'));
    });

    afterAll(async () => {
      await fly?.dispose();
      await server?.destroy();
      if (scratch) await rm(scratch, { recursive: true, force: true });
    });

    it('downloads random and text files byte for byte', async () => {
      const input = path.join(scratch, 'in');
      await mkdir(input);
      // Several 4 MiB windows: random ones are stored, text ones compressed, in one gzip member.
      const random = randomBytes(9 * 1024 * 1024);
      const text = Buffer.from('a line of text that deflate shrinks a lot\n'.repeat(200_000));
      await writeFile(path.join(input, 'a-random.bin'), random);
      await writeFile(path.join(input, 'b-text.txt'), text);
      await writeFile(path.join(input, 'c-random.bin'), random.subarray(0, 5 * 1024 * 1024 + 17));
      const task = path.join(scratch, 'task.yml');
      await writeFile(
        task,
        [
          'platform: linux',
          'inputs: [{name: in}]',
          'outputs: [{name: out}]',
          'run: {path: cp, args: [-r, in/., out/]}',
          '',
        ].join('\n'),
      );
      const output = path.join(scratch, 'out');
      await mkdir(output);

      const result = await fly.run(['execute', '-c', task, '-i', `in=${input}`, '-o', `out=${output}`], {
        timeoutMs: 120_000,
      });

      expect(result.code).toBe(0);
      expect((await readFile(path.join(output, 'a-random.bin'))).equals(random)).toBe(true);
      expect((await readFile(path.join(output, 'b-text.txt'))).equals(text)).toBe(true);
      expect(
        (await readFile(path.join(output, 'c-random.bin'))).equals(random.subarray(0, 5 * 1024 * 1024 + 17)),
      ).toBe(true);
    });
  },
);
