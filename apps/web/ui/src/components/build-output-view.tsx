import {
  useCallback,
  useEffect,
  useLayoutEffect,
  useMemo,
  useRef,
  useState,
  type MouseEvent,
  type ReactNode,
} from 'react';
import { formatDuration, stepDuration, type BuildOutput, type StepNode } from '../model/build-output.js';
import type { LogLine } from '../model/log-lines.js';
import {
  lineHash,
  outputSegments,
  parseLineHash,
  type LineHighlight,
  type OutputSegment,
} from '../model/output-rows.js';
import { stepTitle } from '../model/step-title.js';
import { StatusIcon, statusClass } from './status.js';

/**
 * The build's step tree and logs in one virtualized, scrollable list: only the rows in view (plus a margin)
 * are in the DOM, every row has a fixed height, so a 100,000-line log scrolls as smoothly as a 10-line one.
 * Follows the end of the log while the build runs, until the user scrolls up; scrolling back to the bottom
 * follows again.
 */
const ROW = { step: 34, label: 24, meta: 20, line: 18 } as const;
const OVERSCAN_PX = 600;
const INDENT_PX = 18;

export interface OutputViewHandle {
  scrollBy: (dy: number) => void;
  scrollToTop: () => void;
  scrollToBottom: () => void;
}

function segmentHeight(segment: OutputSegment): number {
  switch (segment.kind) {
    case 'step':
      return ROW.step;
    case 'label':
      return ROW.label;
    case 'meta':
      return ROW.meta * segment.entries.length + 6;
    case 'lines':
      return ROW.line * segment.count + 8;
  }
}

function timeOfDay(unixSeconds: number): string {
  if (!unixSeconds) return '';
  return new Date(unixSeconds * 1000).toLocaleTimeString([], { hour12: false });
}

function LineText({ line }: { line: LogLine }) {
  if (!line.spans) return <>{line.text}</>;
  return (
    <>
      {line.spans.map((span, i) => (
        <span
          key={i}
          className={span.className}
          style={
            span.color || span.background
              ? { color: span.color, backgroundColor: span.background }
              : undefined
          }
        >
          {span.text}
        </span>
      ))}
    </>
  );
}

export function BuildOutputView({
  output,
  version,
  running,
  now,
  handleRef,
}: {
  output: BuildOutput;
  /** output.version when rendered: a new value re-derives the rows. */
  version: number;
  running: boolean;
  now: number;
  handleRef?: React.MutableRefObject<OutputViewHandle | null>;
}) {
  const scroller = useRef<HTMLDivElement>(null);
  const [overrides, setOverrides] = useState<ReadonlyMap<string, boolean>>(new Map());
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(800);
  const [highlight, setHighlight] = useState<LineHighlight | undefined>(() =>
    parseLineHash(window.location.hash),
  );
  const [follow, setFollow] = useState(() => running && parseLineHash(window.location.hash) === undefined);
  const lastScrollTop = useRef(0);
  const scrolledToHighlight = useRef(false);

  // A highlighted line's step opens, whatever its default.
  const effectiveOverrides = useMemo(() => {
    if (!highlight || overrides.has(highlight.stepId)) return overrides;
    const next = new Map(overrides);
    next.set(highlight.stepId, true);
    return next;
  }, [overrides, highlight]);

  const segments = useMemo(
    () => outputSegments(output, effectiveOverrides),
    [output, version, effectiveOverrides],
  );
  const offsets = useMemo(() => {
    const result: number[] = [];
    let y = 0;
    for (const segment of segments) {
      result.push(y);
      y += segmentHeight(segment);
    }
    result.push(y);
    return result;
  }, [segments]);
  const totalHeight = offsets[offsets.length - 1] ?? 0;

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const observer = new ResizeObserver(() => setViewport(el.clientHeight));
    observer.observe(el);
    setViewport(el.clientHeight);
    return () => observer.disconnect();
  }, []);

  // Keep to the end while following.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el || !follow) return;
    el.scrollTop = el.scrollHeight;
    lastScrollTop.current = el.scrollTop;
    setScrollTop(el.scrollTop);
  }, [totalHeight, follow]);

  // A line link (#Lstep:line) scrolls its line into the middle of the view once it exists.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el || !highlight || scrolledToHighlight.current) return;
    const index = segments.findIndex((s) => s.kind === 'lines' && s.stepId === highlight.stepId);
    const segment = segments[index];
    if (!segment || segment.kind !== 'lines' || segment.count < highlight.first) return;
    scrolledToHighlight.current = true;
    const y = (offsets[index] ?? 0) + 4 + (highlight.first - 1) * ROW.line;
    el.scrollTop = Math.max(0, y - el.clientHeight / 3);
    lastScrollTop.current = el.scrollTop;
    setScrollTop(el.scrollTop);
  }, [segments, offsets, highlight]);

  useEffect(() => {
    if (!running) setFollow(false);
  }, [running]);

  const onScroll = useCallback(() => {
    const el = scroller.current;
    if (!el) return;
    const top = el.scrollTop;
    const atBottom = top + el.clientHeight >= el.scrollHeight - 4;
    if (top < lastScrollTop.current - 2 && !atBottom) setFollow(false);
    else if (atBottom && running) setFollow(true);
    lastScrollTop.current = top;
    setScrollTop(top);
  }, [running]);

  const scrollToBottom = useCallback(() => {
    const el = scroller.current;
    if (!el) return;
    el.scrollTop = el.scrollHeight;
    // Also on a finished build: its events may still be arriving, and "the bottom" means the end of the log.
    setFollow(true);
  }, []);

  if (handleRef) {
    handleRef.current = {
      scrollBy: (dy) => scroller.current?.scrollBy({ top: dy }),
      scrollToTop: () => {
        setFollow(false);
        if (scroller.current) scroller.current.scrollTop = 0;
      },
      scrollToBottom,
    };
  }

  const toggle = (step: StepNode, expanded: boolean) => {
    setOverrides((current) => new Map(current).set(step.id, !expanded));
  };

  const selectLine = (event: MouseEvent, stepId: string, line: number) => {
    event.preventDefault();
    const next: LineHighlight =
      event.shiftKey && highlight && highlight.stepId === stepId
        ? { stepId, first: Math.min(highlight.first, line), last: Math.max(highlight.first, line) }
        : { stepId, first: line, last: line };
    setHighlight(next);
    setFollow(false);
    window.history.replaceState(
      window.history.state,
      '',
      `${window.location.pathname}${window.location.search}${lineHash(next)}`,
    );
  };

  // The rows in view.
  const rows: ReactNode[] = [];
  const top = scrollTop - OVERSCAN_PX;
  const bottom = scrollTop + viewport + OVERSCAN_PX;
  let index = upperBound(offsets, top) - 1;
  if (index < 0) index = 0;
  for (; index < segments.length; index++) {
    const segment = segments[index];
    const y = offsets[index] ?? 0;
    if (!segment || y > bottom) break;
    const indent = segment.depth * INDENT_PX;
    switch (segment.kind) {
      case 'step': {
        const { step, expanded, expandable } = segment;
        const title = stepTitle(step);
        const duration = stepDuration(step, now);
        rows.push(
          <div
            key={segment.key}
            className={`step-header ${statusClass(step.state)}${expandable ? ' expandable' : ''}`}
            style={{ top: y, height: ROW.step - 4, marginLeft: indent }}
            onClick={expandable ? () => toggle(step, expanded) : undefined}
            role={expandable ? 'button' : undefined}
            aria-expanded={expandable ? expanded : undefined}
            data-step-id={step.id}
            title={step.worker ? `worker: ${step.worker}` : undefined}
          >
            <span className="step-chevron">{expandable ? (expanded ? '▾' : '▸') : ''}</span>
            <span className="step-type">{title.type}:</span>
            <span className="step-name">{title.name}</span>
            <span className="step-spacer" />
            {duration !== undefined && <span className="step-duration">{formatDuration(duration)}</span>}
            <StatusIcon status={step.state} />
          </div>,
        );
        break;
      }
      case 'label':
        rows.push(
          <div
            key={segment.key}
            className="step-label"
            style={{ top: y, height: ROW.label, marginLeft: indent }}
          >
            {segment.text.replace('_', ' ')}
          </div>,
        );
        break;
      case 'meta':
        rows.push(
          <div key={segment.key} className="step-meta" style={{ top: y + 2, marginLeft: indent }}>
            {segment.entries.map(([key, value], i) => (
              <div className="step-meta-row" key={i} style={{ height: ROW.meta }}>
                <span className="step-meta-key">{key}</span>
                <span className="step-meta-value">{value}</span>
              </div>
            ))}
          </div>,
        );
        break;
      case 'lines': {
        const base = y + 4;
        const gutter = `${Math.max(4, String(segment.count).length) + 1.5}ch`;
        const first = Math.max(0, Math.floor((top - base) / ROW.line));
        const last = Math.min(segment.count - 1, Math.ceil((bottom - base) / ROW.line));
        for (let i = first; i <= last; i++) {
          const line = segment.log.lines[i];
          if (!line) continue;
          const number = i + 1;
          const lit =
            highlight?.stepId === segment.stepId && number >= highlight.first && number <= highlight.last;
          rows.push(
            <div
              key={`${segment.key}:${i}`}
              className={`log-line${lit ? ' highlighted' : ''}${line.error ? ' log-error' : ''}${line.note ? ' log-note' : ''}`}
              style={{ top: base + i * ROW.line, paddingLeft: indent }}
              data-line={number}
            >
              <a
                style={{ width: gutter }}
                className="log-line-number"
                href={lineHash({ stepId: segment.stepId, first: number, last: number })}
                onClick={(event) => selectLine(event, segment.stepId, number)}
              >
                {number}
              </a>
              <span className="log-line-time">{timeOfDay(line.time)}</span>
              <span className="log-line-text">
                <LineText line={line} />
              </span>
            </div>,
          );
        }
        break;
      }
    }
  }

  return (
    <div className="build-output-wrap">
      <div
        className="build-output"
        ref={scroller}
        onScroll={onScroll}
        tabIndex={-1}
        data-testid="build-output"
      >
        <div className="build-output-inner" style={{ height: totalHeight }}>
          {rows}
        </div>
        {segments.length === 0 && <div className="build-output-empty">waiting for the build's steps…</div>}
      </div>
      {running && !follow && (
        <button className="follow-button" onClick={scrollToBottom} title="follow the log (G)">
          ↓ follow
        </button>
      )}
    </div>
  );
}

/** Index of the first offset greater than `value`. */
function upperBound(offsets: readonly number[], value: number): number {
  let lo = 0;
  let hi = offsets.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((offsets[mid] ?? 0) <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
