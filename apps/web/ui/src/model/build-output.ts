import type { BuildEventEnvelope, BuildStatus, MetadataField, PublicPlan, Version } from '../api/types.js';
import { LogLines } from './log-lines.js';

/**
 * A build's output as the build page shows it: the step tree from the public plan (§4.3) with each step's
 * state, times and log, updated by the build's events (§3.3). Mutable on purpose: a 100,000-line log
 * arrives as thousands of events, and copying on each would be quadratic; `version` tells views it changed.
 * Mirrors what Concourse's build page shows (web/elm Build/StepTree), not how it is written.
 */
export type StepState =
  'pending' | 'running' | 'succeeded' | 'failed' | 'errored' | 'interrupted' | 'cancelled';

export type StepType =
  | 'get'
  | 'put'
  | 'task'
  | 'check'
  | 'set_pipeline'
  | 'load_var'
  | 'artifact_input'
  | 'artifact_output'
  | 'run'
  | 'across'
  | 'unknown';

export interface StepNode {
  kind: 'step';
  id: string;
  type: StepType;
  name: string;
  /** Image check/get sub-steps, across sub-steps. */
  children: TreeNode[];
  state: StepState;
  initializeTime?: number;
  startTime?: number;
  finishTime?: number;
  exitStatus?: number;
  version?: Version;
  metadata?: MetadataField[];
  worker?: string;
  log: LogLines;
}

/** Containers of the plan: `do` (sequence), `in_parallel`, and labelled parts (hooks, retry attempts). */
export interface GroupNode {
  kind: 'group';
  id: string;
  layout: 'sequence' | 'parallel';
  children: TreeNode[];
}

export interface LabelNode {
  kind: 'label';
  id: string;
  label: string;
  child: TreeNode;
}

export type TreeNode = StepNode | GroupNode | LabelNode;

const LEAF_TYPES: ReadonlySet<string> = new Set([
  'get',
  'put',
  'task',
  'check',
  'set_pipeline',
  'load_var',
  'artifact_input',
  'artifact_output',
  'run',
]);

const HOOKS = ['on_success', 'on_failure', 'on_abort', 'on_error', 'ensure'] as const;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isPlan(value: unknown): value is PublicPlan {
  return isObject(value) && typeof value['id'] === 'string';
}

export class BuildOutput {
  root: TreeNode | null = null;
  /** Every step by plan id, including ones events named before the plan was known. */
  readonly steps = new Map<string, StepNode>();
  /** Output that belongs to no step: build-level errors. */
  readonly buildLog = new LogLines();
  status: BuildStatus | undefined;
  startTime: number | undefined;
  endTime: number | undefined;
  /** Bumped on every change; views re-render when it moves. */
  version = 0;

  /** Build the tree from `GET /api/v1/builds/:id/plan`'s `plan`; steps already seen keep their state. */
  setPlan(plan: PublicPlan): void {
    this.root = this.toTree(plan);
    // The plan may come after the events of a build that is over: its steps that never ran will not now.
    if (this.status !== undefined && this.status !== 'pending' && this.status !== 'started')
      this.finishSteps(this.endTime);
    this.version++;
  }

  /** Steps events mentioned that the plan does not contain (shown after the tree). */
  orphanSteps(): StepNode[] {
    const inTree = new Set<string>();
    const visit = (node: TreeNode) => {
      if (node.kind === 'step') {
        inTree.add(node.id);
        node.children.forEach(visit);
      } else if (node.kind === 'group') node.children.forEach(visit);
      else visit(node.child);
    };
    if (this.root) visit(this.root);
    return [...this.steps.values()].filter((step) => !inTree.has(step.id));
  }

  apply(envelope: BuildEventEnvelope): void {
    const data = envelope.data;
    const time = typeof data['time'] === 'number' ? data['time'] : undefined;
    const origin = isObject(data['origin']) ? data['origin'] : {};
    const originId = typeof origin['id'] === 'string' && origin['id'] !== '' ? origin['id'] : undefined;
    const step = originId === undefined ? undefined : this.stepFor(originId);
    this.version++;

    switch (envelope.event) {
      case 'status':
        this.applyStatus(data['status'], time);
        return;
      case 'log':
        if (typeof data['payload'] !== 'string') return;
        if (step) {
          this.markRunning(step);
          step.log.append(data['payload'], time ?? 0);
        } else {
          this.buildLog.append(data['payload'], time ?? 0);
        }
        return;
      case 'error': {
        const message = typeof data['message'] === 'string' ? data['message'] : 'error';
        if (step) {
          step.state = 'errored';
          step.finishTime ??= time;
          step.log.appendMessage(message, time ?? 0, 'error');
        } else {
          this.buildLog.appendMessage(message, time ?? 0, 'error');
        }
        return;
      }
      case 'initialize':
      case 'initialize-task':
      case 'initialize-get':
      case 'initialize-put':
      case 'initialize-check':
        if (!step) return;
        this.markRunning(step);
        step.initializeTime ??= time;
        return;
      case 'start':
      case 'start-task':
      case 'start-get':
      case 'start-put':
        if (!step) return;
        this.markRunning(step);
        step.startTime = time;
        step.initializeTime ??= time;
        return;
      case 'finish-task':
      case 'finish-get':
      case 'finish-put': {
        if (!step) return;
        const exit = typeof data['exit_status'] === 'number' ? data['exit_status'] : 0;
        step.exitStatus = exit;
        step.state = exit === 0 ? 'succeeded' : 'failed';
        step.finishTime = time;
        if (isObject(data['version'])) step.version = data['version'] as Version;
        if (Array.isArray(data['metadata'])) step.metadata = data['metadata'] as MetadataField[];
        return;
      }
      case 'finish':
        if (!step) return;
        step.state = data['succeeded'] === true ? 'succeeded' : 'failed';
        step.finishTime = time;
        return;
      case 'selected-worker':
        if (step && typeof data['selected_worker'] === 'string') step.worker = data['selected_worker'];
        return;
      case 'waiting-for-worker':
        step?.log.appendMessage('no suitable workers found, waiting for worker...', time ?? 0, 'note');
        return;
      case 'image-check':
      case 'image-get':
        if (step && isPlan(data['plan'])) step.children.push(this.toTree(data['plan']));
        return;
      case 'across-substeps':
        if (step && Array.isArray(data['substeps'])) {
          step.children = data['substeps'].filter(isPlan).map((plan, i) => ({
            kind: 'label',
            id: `${step.id}/${i}`,
            label: `substep ${i + 1}`,
            child: this.toTree(plan),
          }));
        }
        return;
      default:
        // Events the page has nothing to show for (set-pipeline-changed, streaming-volume…).
        return;
    }
  }

  private applyStatus(status: unknown, time: number | undefined): void {
    if (typeof status !== 'string') return;
    this.status = status as BuildStatus;
    if (status === 'started') {
      this.startTime ??= time;
      return;
    }
    if (status === 'pending') return;
    this.endTime = time;
    this.finishSteps(time);
  }

  /** The build is over: whatever was still running was cut short; whatever never ran will not. */
  private finishSteps(time: number | undefined): void {
    for (const step of this.steps.values()) {
      if (step.state === 'running') {
        step.state = 'interrupted';
        step.finishTime ??= time;
      } else if (step.state === 'pending') {
        step.state = 'cancelled';
      }
    }
  }

  private markRunning(step: StepNode): void {
    if (step.state === 'pending') step.state = 'running';
  }

  private stepFor(id: string, type: StepType = 'unknown', name = id): StepNode {
    let step = this.steps.get(id);
    if (!step) {
      step = { kind: 'step', id, type, name, children: [], state: 'pending', log: new LogLines() };
      this.steps.set(id, step);
    } else if (step.type === 'unknown' && type !== 'unknown') {
      step.type = type;
      step.name = name;
    }
    return step;
  }

  private toTree(plan: PublicPlan): TreeNode {
    for (const [key, body] of Object.entries(plan)) {
      if (key === 'id' || key === 'attempts') continue;
      if (LEAF_TYPES.has(key)) {
        const fields = isObject(body) ? body : {};
        const step = this.stepFor(plan.id, key as StepType, stepName(fields));
        step.children = [];
        for (const sub of ['image_check_plan', 'image_get_plan']) {
          if (isPlan(fields[sub])) step.children.push(this.toTree(fields[sub]));
        }
        return step;
      }
      switch (key) {
        case 'do':
          return {
            kind: 'group',
            id: plan.id,
            layout: 'sequence',
            children: plansIn(body).map((p) => this.toTree(p)),
          };
        case 'in_parallel': {
          const steps = isObject(body) ? plansIn(body['steps']) : plansIn(body);
          return {
            kind: 'group',
            id: plan.id,
            layout: 'parallel',
            children: steps.map((p) => this.toTree(p)),
          };
        }
        case 'aggregate':
          return {
            kind: 'group',
            id: plan.id,
            layout: 'parallel',
            children: plansIn(body).map((p) => this.toTree(p)),
          };
        case 'across': {
          const vars = isObject(body) && Array.isArray(body['vars']) ? body['vars'] : [];
          const names = vars.map((v) => (isObject(v) && typeof v['name'] === 'string' ? v['name'] : '?'));
          return this.stepFor(plan.id, 'across', names.join(', '));
        }
        case 'try':
        case 'timeout':
          if (isObject(body) && isPlan(body['step'])) return this.toTree(body['step']);
          break;
        case 'retry': {
          const attempts = plansIn(body);
          return {
            kind: 'group',
            id: plan.id,
            layout: 'sequence',
            children: attempts.map((p, i) => ({
              kind: 'label',
              id: `${plan.id}/attempt-${i + 1}`,
              label: `attempt ${i + 1}`,
              child: this.toTree(p),
            })),
          };
        }
        default:
          if (
            (HOOKS as readonly string[]).includes(key) &&
            isObject(body) &&
            isPlan(body['step']) &&
            isPlan(body[key])
          ) {
            return {
              kind: 'group',
              id: plan.id,
              layout: 'sequence',
              children: [
                this.toTree(body['step']),
                { kind: 'label', id: `${plan.id}/${key}`, label: key, child: this.toTree(body[key]) },
              ],
            };
          }
      }
    }
    // A step kind this UI does not know yet: still show it, by its key.
    const key = Object.keys(plan).find((k) => k !== 'id' && k !== 'attempts') ?? 'step';
    return this.stepFor(plan.id, 'unknown', key);
  }
}

function plansIn(value: unknown): PublicPlan[] {
  return Array.isArray(value) ? value.filter(isPlan) : [];
}

function stepName(fields: Record<string, unknown>): string {
  for (const key of ['name', 'resource']) {
    if (typeof fields[key] === 'string' && fields[key] !== '') return fields[key];
  }
  return '';
}

/** Seconds the step has taken so far (or took), if it started. */
export function stepDuration(step: StepNode, now: number): number | undefined {
  const from = step.initializeTime ?? step.startTime;
  if (from === undefined) return undefined;
  const to = step.finishTime ?? (step.state === 'running' ? now : undefined);
  return to === undefined ? undefined : Math.max(0, to - from);
}

/** "1h 2m", "3m 4s", "5s": the way Concourse shows durations. */
export function formatDuration(seconds: number): string {
  const s = Math.floor(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${rest}s`;
  return `${rest}s`;
}
