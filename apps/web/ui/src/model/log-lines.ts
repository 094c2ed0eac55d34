import Anser from 'anser';

/**
 * A step's log as lines of styled text, built incrementally from `log` event payloads (which may end
 * mid-line) the way a terminal shows them: ANSI SGR colours carry over from line to line, `\r` rewinds the
 * line (progress bars keep only their last state), and the last line stays open until its newline comes.
 */
export interface LogSpan {
  text: string;
  /** `ansi-*` classes: colours of the 16-colour palette and decorations (bold, underline…). */
  className?: string;
  /** CSS colours for 256-colour and true-colour codes. */
  color?: string;
  background?: string;
}

export interface LogLine {
  /** Unix seconds of the event that started the line. */
  time: number;
  /** The line without escape codes (for copying and searching). */
  text: string;
  /** Styled pieces; null when the line is plain text with no styling at all (most lines). */
  spans: LogSpan[] | null;
  /** A build error (the `error` event), shown in red. */
  error?: boolean;
  /** A note from the build itself rather than the step's output (e.g. waiting for a worker). */
  note?: boolean;
}

/** Anser's colour state lives in these instance fields (not in its typings); saved to re-parse a line. */
interface AnserState {
  fg: string | null;
  bg: string | null;
  fg_truecolor: string | null;
  bg_truecolor: string | null;
  decorations: string[];
}

const ANSER_OPTIONS = { json: true, use_classes: true, remove_empty: true } as const;
/**
 * Anser styles the text before a line's first escape code with no colour at all. An SGR parameter it
 * ignores (50, reserved) in front of the line makes it apply the carried-over state to that text too.
 */
const KEEP_STATE_PREFIX = '\u001b[50m';
const ESCAPE = '\u001b';

export class LogLines {
  readonly lines: LogLine[] = [];
  private readonly ansi = new Anser();
  /** The unterminated last line, raw, with the colour state it started with. */
  private openRaw: string | undefined;
  private openTime = 0;
  private openState: AnserState | undefined;

  get length(): number {
    return this.lines.length;
  }

  /** Add a `log` event's payload. */
  append(payload: string, time: number): void {
    if (payload === '') return;
    let text = payload;
    let firstLineTime = time;
    if (this.openRaw !== undefined) {
      // The open line is parsed again as a whole, from the colour state it started with.
      this.lines.pop();
      this.restoreState(this.openState);
      text = this.openRaw + payload;
      firstLineTime = this.openTime;
    }
    const parts = text.split('\n');
    const last = parts.pop() ?? '';
    parts.forEach((raw, i) => this.lines.push(this.parseLine(raw, i === 0 ? firstLineTime : time)));
    if (last === '') {
      this.openRaw = undefined;
      this.openState = undefined;
    } else {
      const startTime = parts.length === 0 ? firstLineTime : time;
      this.openState = this.saveState();
      this.openRaw = last;
      this.openTime = startTime;
      this.lines.push(this.parseLine(last, startTime));
    }
  }

  /** A whole line that is not the step's output: an error or a note, after whatever was open. */
  appendMessage(message: string, time: number, kind: 'error' | 'note'): void {
    this.closeOpenLine();
    for (const text of message.replace(/\n$/, '').split('\n')) {
      this.lines.push({ time, text, spans: null, ...(kind === 'error' ? { error: true } : { note: true }) });
    }
  }

  private closeOpenLine(): void {
    this.openRaw = undefined;
    this.openState = undefined;
  }

  private parseLine(rawLine: string, time: number): LogLine {
    const raw = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    // `\r` moves back to the line's start: what is shown is the last rewrite (its colours still count).
    const rewrites = raw.split('\r');
    let shown: LogSpan[] = [];
    for (const segment of rewrites) {
      const spans = this.parseSegment(segment);
      if (spans.length > 0 || rewrites.length === 1) shown = spans;
    }
    const text = shown.map((span) => span.text).join('');
    const plain = shown.every((span) => !span.className && !span.color && !span.background);
    return { time, text, spans: plain ? null : shown };
  }

  private parseSegment(segment: string): LogSpan[] {
    if (!segment.includes(ESCAPE) && this.isDefaultState()) return segment === '' ? [] : [{ text: segment }];
    const input = this.isDefaultState() ? segment : KEEP_STATE_PREFIX + segment;
    return this.ansi.ansiToJson(input, ANSER_OPTIONS).map(toSpan);
  }

  private state(): AnserState {
    return this.ansi as unknown as AnserState;
  }

  private isDefaultState(): boolean {
    const s = this.state();
    return !s.fg && !s.bg && !s.fg_truecolor && !s.bg_truecolor && s.decorations.length === 0;
  }

  private saveState(): AnserState {
    const s = this.state();
    return {
      fg: s.fg,
      bg: s.bg,
      fg_truecolor: s.fg_truecolor,
      bg_truecolor: s.bg_truecolor,
      decorations: [...s.decorations],
    };
  }

  private restoreState(saved: AnserState | undefined): void {
    if (!saved) return;
    Object.assign(this.state(), { ...saved, decorations: [...saved.decorations] });
  }
}

interface AnserEntry {
  content: string;
  fg: string | null;
  bg: string | null;
  fg_truecolor: string | null;
  bg_truecolor: string | null;
  decorations: string[];
}

function toSpan(entry: AnserEntry): LogSpan {
  const classes: string[] = [];
  const span: LogSpan = { text: entry.content };
  const fg = colourOf(entry.fg, entry.fg_truecolor);
  const bg = colourOf(entry.bg, entry.bg_truecolor);
  if (fg?.className) classes.push(`${fg.className}-fg`);
  if (fg?.css) span.color = fg.css;
  if (bg?.className) classes.push(`${bg.className}-bg`);
  if (bg?.css) span.background = bg.css;
  for (const decoration of entry.decorations) classes.push(`ansi-${decoration}`);
  if (classes.length > 0) span.className = classes.join(' ');
  return span;
}

/** Anser's colour names: `ansi-red`, `ansi-bright-red`, `ansi-palette-N`, `ansi-truecolor` (+ "r, g, b"). */
function colourOf(
  name: string | null,
  truecolor: string | null,
): { className?: string; css?: string } | undefined {
  if (!name) return undefined;
  if (name === 'ansi-truecolor') return truecolor ? { css: `rgb(${truecolor})` } : undefined;
  const palette = /^ansi-palette-(\d+)$/.exec(name);
  if (palette) return paletteColour(Number(palette[1]));
  return { className: name };
}

const BASE_COLOURS = ['black', 'red', 'green', 'yellow', 'blue', 'magenta', 'cyan', 'white'];
const CUBE_LEVELS = [0, 95, 135, 175, 215, 255];

/** The xterm 256-colour palette: 16 named colours (themed by CSS), a 6×6×6 cube, 24 greys. */
export function paletteColour(index: number): { className?: string; css?: string } {
  if (index < 8) return { className: `ansi-${BASE_COLOURS[index]}` };
  if (index < 16) return { className: `ansi-bright-${BASE_COLOURS[index - 8]}` };
  if (index < 232) {
    const n = index - 16;
    const r = CUBE_LEVELS[Math.floor(n / 36)] ?? 0;
    const g = CUBE_LEVELS[Math.floor(n / 6) % 6] ?? 0;
    const b = CUBE_LEVELS[n % 6] ?? 0;
    return { css: `rgb(${r}, ${g}, ${b})` };
  }
  const grey = 8 + (Math.min(index, 255) - 232) * 10;
  return { css: `rgb(${grey}, ${grey}, ${grey})` };
}
