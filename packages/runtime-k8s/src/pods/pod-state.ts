import type { ContainerStatus, KubeEvent, Pod } from '../kube/pod-types.js';

/** The container JetBridge execs into; the init container that installs the helper and copies inputs. */
export const MAIN_CONTAINER = 'main';
export const INIT_CONTAINER = 'jetbridge-init';

/**
 * Waiting reasons that will not fix themselves (or not soon enough for a build): the step ends errored with
 * the reason instead of waiting for the start timeout (JetBridge-the-fork's fail-fast list).
 */
const FATAL_WAITING_REASONS = new Set([
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'ErrImageNeverPull',
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
  'CrashLoopBackOff',
]);

export type StartState =
  | { kind: 'running' }
  | { kind: 'waiting' }
  | { kind: 'unschedulable'; message: string }
  | { kind: 'failed'; reason: string; message: string };

export type Health = { kind: 'healthy' } | { kind: 'failed'; reason: string; message: string };

/** Where a starting step pod stands. */
export function startStateOf(pod: Pod | undefined): StartState {
  const health = healthOf(pod);
  if (health.kind === 'failed') return health;
  const status = pod?.status ?? {};
  for (const container of [...(status.initContainerStatuses ?? []), ...(status.containerStatuses ?? [])]) {
    const waiting = container.state?.waiting;
    if (waiting?.reason && FATAL_WAITING_REASONS.has(waiting.reason)) {
      return {
        kind: 'failed',
        reason: waiting.reason,
        message: `container ${container.name}: ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`,
      };
    }
    const terminated = container.state?.terminated;
    if (terminated && terminated.exitCode !== 0) {
      return {
        kind: 'failed',
        reason: container.name === INIT_CONTAINER ? 'InitContainerFailed' : (terminated.reason ?? 'Error'),
        message: `container ${container.name} exited with ${terminated.exitCode}${terminated.reason ? ` (${terminated.reason})` : ''}${terminated.message ? `: ${terminated.message}` : ''}`,
      };
    }
  }
  if (mainStatus(pod)?.state?.running) return { kind: 'running' };
  const scheduled = status.conditions?.find((condition) => condition.type === 'PodScheduled');
  if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
    return { kind: 'unschedulable', message: scheduled.message ?? 'no node can run the pod' };
  }
  return { kind: 'waiting' };
}

/** Whether a pod can still run processes: it exists, is not being deleted, and its main container runs on. */
export function healthOf(pod: Pod | undefined): Health {
  if (!pod) return { kind: 'failed', reason: 'Deleted', message: 'the pod was deleted' };
  if (pod.metadata.deletionTimestamp) {
    return { kind: 'failed', reason: 'Deleted', message: 'the pod is being deleted' };
  }
  const status = pod.status ?? {};
  const main = mainStatus(pod);
  const terminated = main?.state?.terminated;
  if (status.phase === 'Failed' || status.phase === 'Succeeded' || terminated) {
    const reason = status.reason ?? terminated?.reason ?? status.phase ?? 'Failed';
    const message =
      status.message ??
      (terminated
        ? `container ${MAIN_CONTAINER} terminated: ${terminated.reason ?? 'Error'} (exit ${terminated.exitCode})`
        : `the pod is ${status.phase ?? 'gone'}`);
    return { kind: 'failed', reason, message };
  }
  return { kind: 'healthy' };
}

function mainStatus(pod: Pod | undefined): ContainerStatus | undefined {
  return pod?.status?.containerStatuses?.find((status) => status.name === MAIN_CONTAINER);
}

function describeContainer(kind: string, status: ContainerStatus): string {
  const state = status.state ?? {};
  let text = 'unknown';
  if (state.running) text = `running since ${state.running.startedAt ?? '?'}`;
  if (state.waiting)
    text = `waiting: ${state.waiting.reason ?? '?'}${state.waiting.message ? ` (${state.waiting.message})` : ''}`;
  if (state.terminated) {
    const t = state.terminated;
    text = `terminated: ${t.reason ?? 'Error'}, exit ${t.exitCode}${t.signal ? `, signal ${t.signal}` : ''}${t.message ? ` (${t.message.trim()})` : ''}`;
  }
  const restarts = status.restartCount ? `, ${status.restartCount} restarts` : '';
  return `  ${kind} ${status.name}: ${text}${restarts}`;
}

/**
 * The "pod failure diagnostics" block for the build log: phase and reason, node, conditions, every container's
 * state, recent events and the end of the init container's log when it failed.
 */
export function describePod(
  pod: Pod | undefined,
  extra: { events?: KubeEvent[]; initLog?: string; podName?: string } = {},
): string {
  if (!pod) return `pod ${extra.podName ?? ''} no longer exists`.replace('  ', ' ');
  const status = pod.status ?? {};
  const lines = [
    `pod ${pod.metadata.namespace ?? ''}/${pod.metadata.name ?? ''}`,
    `  phase: ${status.phase ?? 'Unknown'}${status.reason ? ` (${status.reason})` : ''}${status.message ? `: ${status.message}` : ''}`,
    `  node: ${pod.spec.nodeName ?? '(not scheduled)'}`,
  ];
  if (pod.metadata.deletionTimestamp) lines.push(`  deleted at: ${pod.metadata.deletionTimestamp}`);
  const conditions = (status.conditions ?? []).map(
    (condition) =>
      `${condition.type}=${condition.status}${condition.reason ? ` (${condition.reason}${condition.message ? `: ${condition.message}` : ''})` : ''}`,
  );
  if (conditions.length > 0) lines.push(`  conditions: ${conditions.join('; ')}`);
  for (const container of status.initContainerStatuses ?? [])
    lines.push(describeContainer('init', container));
  for (const container of status.containerStatuses ?? [])
    lines.push(describeContainer('container', container));
  const events = (extra.events ?? []).slice(-8);
  if (events.length > 0) {
    lines.push('  events:');
    for (const event of events) {
      lines.push(`    ${event.type ?? ''} ${event.reason ?? ''}: ${(event.message ?? '').trim()}`);
    }
  }
  const initLog = extra.initLog?.trim();
  if (initLog) {
    lines.push(`  ${INIT_CONTAINER} log:`);
    for (const line of initLog.split('\n').slice(-10)) lines.push(`    ${line}`);
  }
  return lines.join('\n');
}
