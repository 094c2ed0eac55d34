import { describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { isDatabaseUnavailable } from './database-unavailable.js';

describe('isDatabaseUnavailable', () => {
  it('recognises a refused connection from a real client', async () => {
    // Port 1 on localhost: nothing listens there, so connecting fails the way a stopped server does.
    const client = new pg.Client({ host: '127.0.0.1', port: 1, user: 'nobody', database: 'none' });
    const err = await client.connect().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isDatabaseUnavailable(err)).toBe(true);
  });

  it('recognises server shutdown codes and connection exceptions', () => {
    for (const code of ['57P01', '57P02', '57P03', '08006', '08003']) {
      expect({ code, unavailable: isDatabaseUnavailable(Object.assign(new Error('x'), { code })) }).toEqual({
        code,
        unavailable: true,
      });
    }
    expect(isDatabaseUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true);
  });

  it('does not excuse query errors', () => {
    expect(isDatabaseUnavailable(Object.assign(new Error('syntax'), { code: '42601' }))).toBe(false);
    expect(isDatabaseUnavailable(Object.assign(new Error('dup'), { code: '23505' }))).toBe(false);
    expect(isDatabaseUnavailable(new Error('boom'))).toBe(false);
    expect(isDatabaseUnavailable(undefined)).toBe(false);
  });
});
