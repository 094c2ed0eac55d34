import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { LogEventWriter } from './log-event-writer.js';
import { REDACTED, Redactor } from './redactor.js';

function collector(): { payloads: string[]; emit: (payload: string) => Promise<void> } {
  const payloads: string[] = [];
  return { payloads, emit: async (payload) => void payloads.push(payload) };
}

describe('LogEventWriter', () => {
  it('emits whole lines and keeps an unfinished one until its line break', async () => {
    const { payloads, emit } = collector();
    const writer = new LogEventWriter(emit, new Redactor([]), { partialLineFlushMs: 60_000 });
    await writer.write(Buffer.from('one\ntw'));
    await writer.write(Buffer.from('o\nthr'));
    await writer.close();
    expect(payloads.join('')).toBe('one\ntwo\nthr');
    expect(payloads[0]).toBe('one\n');
    expect(payloads).not.toContain('tw');
  });

  it('never splits a multi-byte character, whatever the chunking', async () => {
    const text = 'héllo wörld — 日本語 🎉\nnext ✓ line';
    const bytes = Buffer.from(text);
    for (let size = 1; size <= 5; size++) {
      const { payloads, emit } = collector();
      const writer = new LogEventWriter(emit, new Redactor([]), { partialLineFlushMs: 0 });
      for (let i = 0; i < bytes.length; i += size) {
        await writer.write(bytes.subarray(i, i + size));
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      await writer.close();
      expect(payloads.join('')).toBe(text);
      for (const payload of payloads) expect(payload).not.toContain('\uFFFD');
    }
  });

  it('flushes an unfinished line after a while, holding back what may become a secret', async () => {
    const { payloads, emit } = collector();
    const writer = new LogEventWriter(emit, new Redactor(['s3cr3t']), { partialLineFlushMs: 20 });
    await writer.write(Buffer.from('progress 50% s3c'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(payloads).toEqual(['progress 50% ']);
    await writer.write(Buffer.from('r3t done'));
    await writer.close();
    expect(payloads.join('')).toBe(`progress 50% ${REDACTED} done`);
  });

  it('redacts secrets split across any chunk boundaries', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(60), { maxLength: 8 }), fc.boolean(), async (cuts, flushPartials) => {
        const secret = 'pa55-wörd';
        const text = `a ${secret} b\n${secret}\nc ${secret}`;
        const bytes = Buffer.from(text);
        const points = [...new Set(cuts.map((c) => c % bytes.length))].sort((a, b) => a - b);
        const { payloads, emit } = collector();
        const writer = new LogEventWriter(emit, new Redactor([secret]), {
          partialLineFlushMs: flushPartials ? 0 : 60_000,
        });
        let from = 0;
        for (const point of [...points, bytes.length]) {
          await writer.write(bytes.subarray(from, point));
          if (flushPartials) await new Promise((resolve) => setTimeout(resolve, 2));
          from = point;
        }
        await writer.close();
        const shown = payloads.join('');
        expect(shown).toBe(`a ${REDACTED} b\n${REDACTED}\nc ${REDACTED}`);
        for (const payload of payloads) expect(payload).not.toContain('pa55');
      }),
      { numRuns: 60 },
    );
  });

  it('batches lines written while the sink is busy', async () => {
    const payloads: string[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const writer = new LogEventWriter(async (payload) => {
      payloads.push(payload);
      await gate;
    }, new Redactor([]));
    await writer.write('first\n');
    for (let i = 0; i < 100; i++) await writer.write(`line ${i}\n`);
    release();
    await writer.close();
    expect(payloads.length).toBe(2);
    expect(payloads.join('')).toBe(`first\n${Array.from({ length: 100 }, (_, i) => `line ${i}\n`).join('')}`);
  });

  it('reports with each payload the raw output offset at its end: the log so far is the redacted raw prefix', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(80), { maxLength: 10 }), fc.boolean(), async (cuts, flushPartials) => {
        const secret = 'pa55-wörd';
        const text = `héllo ${secret} 日本\n${secret}\r🎉 progress ${secret}\nlast ✓ ${secret} end`;
        const bytes = Buffer.from(text);
        const points = [...new Set(cuts.map((c) => c % bytes.length))].sort((a, b) => a - b);
        const redactor = new Redactor([secret]);
        const emitted: Array<{ payload: string; rawOffset: number }> = [];
        const writer = new LogEventWriter(
          async (payload, rawOffset) => void emitted.push({ payload, rawOffset }),
          redactor,
          {
            partialLineFlushMs: flushPartials ? 0 : 60_000,
          },
        );
        let from = 0;
        for (const point of [...points, bytes.length]) {
          await writer.write(bytes.subarray(from, point));
          if (flushPartials) await new Promise((resolve) => setTimeout(resolve, 2));
          from = point;
        }
        await writer.close();
        let shown = '';
        let previous = 0;
        for (const { payload, rawOffset } of emitted) {
          shown += payload;
          expect(rawOffset).toBeGreaterThan(previous);
          previous = rawOffset;
          // Resuming the raw output at rawOffset neither repeats nor skips anything of what is shown.
          expect(redactor.redact(bytes.subarray(0, rawOffset).toString('utf8'))).toBe(shown);
        }
        expect(previous).toBe(bytes.length);
      }),
      { numRuns: 60 },
    );
  });
});
