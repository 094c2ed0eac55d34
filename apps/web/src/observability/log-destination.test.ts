import fs from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { stdoutLogDestination } from './log-destination.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-logdest-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the default log destination', () => {
  it('writes every line to a file', async () => {
    const file = path.join(dir, 'log');
    const fd = fs.openSync(file, 'w');
    try {
      const logger = pino({ base: null }, stdoutLogDestination({ fd }));
      logger.info('first');
      logger.info({ n: 2 }, 'second');
      const lines = (await readFile(file, 'utf8')).trim().split('\n');
      expect(lines.map((line) => (JSON.parse(line) as { msg: string }).msg)).toEqual(['first', 'second']);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('drops lines on a full disk (ENOSPC, as /dev/full answers) and says so once, without throwing', () => {
    const fd = fs.openSync('/dev/full', 'w');
    const reports: string[] = [];
    try {
      const logger = pino({}, stdoutLogDestination({ fd, reportFailure: (m) => reports.push(m) }));
      for (let i = 0; i < 5; i++) logger.info({ i }, 'a line the disk has no room for');
      expect(reports).toEqual([
        'jetbridge: cannot write log lines to stdout (ENOSPC); dropping them until it works again\n',
      ]);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('survives a pipe whose reader went away (EPIPE)', async () => {
    const pipe = new PassThrough();
    const reports: string[] = [];
    // fd -1 cannot be inspected: the stream path, as for a pipe.
    const logger = pino(
      {},
      stdoutLogDestination({ fd: -1, stream: pipe, reportFailure: (m) => reports.push(m) }),
    );
    logger.info('before');
    pipe.destroy(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    await new Promise((resolve) => setImmediate(resolve));
    logger.info('after the reader left');
    expect(reports).toEqual([
      'jetbridge: cannot write log lines to stdout (EPIPE); dropping them until it works again\n',
    ]);
  });
});
