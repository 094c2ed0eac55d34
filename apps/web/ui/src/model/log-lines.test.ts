import { describe, expect, it } from '@jest/globals';
import { LogLines, paletteColour } from './log-lines.js';

const ESC = '\u001b';

function texts(log: LogLines): string[] {
  return log.lines.map((l) => l.text);
}

describe('LogLines', () => {
  it('splits payloads into lines, joining a line written in several events', () => {
    const log = new LogLines();
    log.append('hel', 100);
    expect(texts(log)).toEqual(['hel']);
    log.append('lo\nwor', 101);
    log.append('ld\n', 102);
    expect(texts(log)).toEqual(['hello', 'world']);
    // A line keeps the time of the event that started it.
    expect(log.lines.map((l) => l.time)).toEqual([100, 101]);
  });

  it('keeps plain lines as plain text, with no span objects', () => {
    const log = new LogLines();
    log.append('just text\n', 1);
    expect(log.lines[0]).toEqual({ time: 1, text: 'just text', spans: null });
  });

  it('styles SGR colours and decorations, and carries colour across lines and events', () => {
    const log = new LogLines();
    log.append(`${ESC}[1;32mok${ESC}[0m plain ${ESC}[33myellow\nstill yellow`, 5);
    log.append(` more${ESC}[0m\nback to plain\n`, 6);
    const [first, second, third] = log.lines;
    expect(first?.text).toBe('ok plain yellow');
    expect(first?.spans).toEqual([
      { text: 'ok', className: 'ansi-green-fg ansi-bold' },
      { text: ' plain ' },
      { text: 'yellow', className: 'ansi-yellow-fg' },
    ]);
    expect(second?.spans).toEqual([{ text: 'still yellow more', className: 'ansi-yellow-fg' }]);
    expect(third).toMatchObject({ text: 'back to plain', spans: null });
  });

  it('renders 256-colour and true-colour codes as CSS colours', () => {
    const log = new LogLines();
    log.append(`${ESC}[38;5;208morange${ESC}[0m ${ESC}[48;2;10;20;30mdeep${ESC}[0m\n`, 1);
    expect(log.lines[0]?.spans).toEqual([
      { text: 'orange', color: 'rgb(255, 135, 0)' },
      { text: ' ' },
      { text: 'deep', background: 'rgb(10, 20, 30)' },
    ]);
    expect(paletteColour(1)).toEqual({ className: 'ansi-red' });
    expect(paletteColour(9)).toEqual({ className: 'ansi-bright-red' });
    expect(paletteColour(232)).toEqual({ css: 'rgb(8, 8, 8)' });
  });

  it('shows the last rewrite of a line redrawn with carriage returns, and drops CRLF endings', () => {
    const log = new LogLines();
    log.append('progress 10%\rprogress 50%\r', 1);
    log.append('progress 100%\r\nwindows line\r\n', 2);
    expect(texts(log)).toEqual(['progress 100%', 'windows line']);
  });

  it('adds error and note lines after whatever was open', () => {
    const log = new LogLines();
    log.append('partial', 1);
    log.appendMessage('boom\nsecond line\n', 2, 'error');
    log.append('next\n', 3);
    expect(log.lines).toEqual([
      { time: 1, text: 'partial', spans: null },
      { time: 2, text: 'boom', spans: null, error: true },
      { time: 2, text: 'second line', spans: null, error: true },
      { time: 3, text: 'next', spans: null },
    ]);
  });

  it('takes a 100,000-line log quickly', () => {
    const log = new LogLines();
    const started = Date.now();
    for (let chunk = 0; chunk < 1000; chunk++) {
      let payload = '';
      for (let i = 0; i < 100; i++)
        payload += `line ${chunk * 100 + i + 1} ${i % 10 === 0 ? `${ESC}[31mred${ESC}[0m` : 'plain'}\n`;
      log.append(payload, chunk);
    }
    expect(log.length).toBe(100_000);
    expect(log.lines[99_999]?.text).toBe('line 100000 plain');
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
