import type { BuildOutput, StepNode, TreeNode } from './build-output.js';
import type { LogLines } from './log-lines.js';

/**
 * The build page's body as a flat list of segments for a virtualized list: step headers, labels (hooks,
 * attempts), version/metadata rows and blocks of log lines. A block of N lines is one segment, so the list
 * is as long as the number of steps, not of lines, and a 100,000-line log costs nothing to lay out.
 */
export type OutputSegment =
  | { kind: 'step'; key: string; step: StepNode; depth: number; expanded: boolean; expandable: boolean }
  | { kind: 'label'; key: string; text: string; depth: number }
  | { kind: 'meta'; key: string; depth: number; entries: Array<[string, string]> }
  | { kind: 'lines'; key: string; stepId: string; log: LogLines; depth: number; count: number };

/** The id under which build-level output (errors without a step) is shown and linked. */
export const BUILD_LOG_ID = 'build';

/**
 * Whether a step shows its body. The user's choice wins; otherwise steps that failed or are running show
 * theirs, and so do tasks and other steps whose output is the point; fetches and pushes that went well stay
 * folded, as on Concourse's build page.
 */
export function isExpanded(step: StepNode, overrides: ReadonlyMap<string, boolean>): boolean {
  const chosen = overrides.get(step.id);
  if (chosen !== undefined) return chosen;
  if (step.state === 'failed' || step.state === 'errored') return true;
  switch (step.type) {
    case 'get':
    case 'put':
    case 'artifact_input':
    case 'artifact_output':
    case 'check':
      return step.state === 'running';
    default:
      return true;
  }
}

function hasBody(step: StepNode): boolean {
  return step.children.length > 0 || step.log.length > 0 || metaEntries(step).length > 0;
}

export function metaEntries(step: StepNode): Array<[string, string]> {
  const entries: Array<[string, string]> = [];
  for (const [key, value] of Object.entries(step.version ?? {})) entries.push([key, value]);
  for (const field of step.metadata ?? []) entries.push([field.name, field.value]);
  return entries;
}

export function outputSegments(
  output: BuildOutput,
  overrides: ReadonlyMap<string, boolean>,
): OutputSegment[] {
  const segments: OutputSegment[] = [];

  const pushStep = (step: StepNode, depth: number) => {
    const expandable = hasBody(step);
    const expanded = expandable && isExpanded(step, overrides);
    segments.push({ kind: 'step', key: `s:${step.id}`, step, depth, expanded, expandable });
    if (!expanded) return;
    const entries = metaEntries(step);
    if (entries.length > 0) segments.push({ kind: 'meta', key: `m:${step.id}`, depth: depth + 1, entries });
    for (const child of step.children) visit(child, depth + 1);
    if (step.log.length > 0) {
      segments.push({
        kind: 'lines',
        key: `l:${step.id}`,
        stepId: step.id,
        log: step.log,
        depth: depth + 1,
        count: step.log.length,
      });
    }
  };

  const visit = (node: TreeNode, depth: number) => {
    switch (node.kind) {
      case 'step':
        pushStep(node, depth);
        return;
      case 'group':
        for (const child of node.children) visit(child, depth);
        return;
      case 'label': {
        const at = segments.length;
        segments.push({ kind: 'label', key: `t:${node.id}`, text: node.label, depth });
        visit(node.child, depth + 1);
        // A hook or attempt with nothing to show (an empty in_parallel) gets no label either.
        if (segments.length === at + 1) segments.pop();
        return;
      }
    }
  };

  if (output.root) visit(output.root, 0);
  for (const orphan of output.orphanSteps()) pushStep(orphan, 0);
  if (output.buildLog.length > 0) {
    segments.push({
      kind: 'lines',
      key: `l:${BUILD_LOG_ID}`,
      stepId: BUILD_LOG_ID,
      log: output.buildLog,
      depth: 0,
      count: output.buildLog.length,
    });
  }
  return segments;
}

/** A line link: `#L<step id>:<line>` or `#L<step id>:<first>:<last>` (1-based), as Concourse's build page. */
export interface LineHighlight {
  stepId: string;
  first: number;
  last: number;
}

export function parseLineHash(hash: string): LineHighlight | undefined {
  const match = /^#?L([^:]+):(\d+)(?::(\d+))?$/.exec(decodeURIComponent(hash));
  if (!match) return undefined;
  const first = Number(match[2]);
  const last = match[3] === undefined ? first : Number(match[3]);
  if (first < 1 || last < 1) return undefined;
  return { stepId: match[1] ?? '', first: Math.min(first, last), last: Math.max(first, last) };
}

export function lineHash(highlight: LineHighlight): string {
  const range =
    highlight.first === highlight.last ? `${highlight.first}` : `${highlight.first}:${highlight.last}`;
  return `#L${encodeURIComponent(highlight.stepId)}:${range}`;
}
