import { describe, expect, it } from '@jest/globals';
import { envelopeJson } from './build-event-log.js';
import { eventFrame } from './build-event-stream.js';

function shownData(frame: string): unknown {
  const line = frame.split('\n').find((each) => each.startsWith('data: '));
  return JSON.parse(line!.slice('data: '.length));
}

describe('eventFrame', () => {
  it("hides a log event's output_offset and keeps everything else as stored, even a payload that mimics it", () => {
    for (const payload of ['line\n', ',"output_offset":5 "quoted" \\', '((redacted))\n']) {
      const data = { time: 1, origin: { id: 'p1', source: 'stdout' }, payload };
      const stored = envelopeJson(
        { event: 'log', version: '5.1', data: { ...data, output_offset: 1234 } },
        7,
      );
      const frame = eventFrame(7, stored);
      expect(frame).not.toContain('1234');
      expect(shownData(frame)).toEqual({ data, event: 'log', version: '5.1', event_id: '7' });
      // Without the field, the stored text goes out unchanged.
      const plain = envelopeJson({ event: 'log', version: '5.1', data }, 7);
      expect(eventFrame(7, plain)).toBe(`id: 7\nevent: event\ndata: ${plain}\n\n`);
    }
  });
});
