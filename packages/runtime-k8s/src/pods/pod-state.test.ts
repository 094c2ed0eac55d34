import { describe, expect, it } from '@jest/globals';
import type { Pod } from '../kube/pod-types.js';
import { describePod, healthOf, startStateOf } from './pod-state.js';

// Pod objects as the API server reports them in these situations (shapes from real clusters' `kubectl get -o json`).
function pod(status: Pod['status'], metadata: Partial<Pod['metadata']> = {}): Pod {
  return {
    metadata: { name: 'jb-task-x-0123456789', namespace: 'ci', ...metadata },
    spec: { containers: [{ name: 'main', image: 'busybox' }], nodeName: 'node-7' },
    status,
  };
}

describe('pod state', () => {
  it('fails a start at once on configuration and pull errors, waits while scheduling', () => {
    expect(
      startStateOf(
        pod({
          phase: 'Pending',
          containerStatuses: [
            {
              name: 'main',
              state: {
                waiting: { reason: 'CreateContainerConfigError', message: 'secret "creds" not found' },
              },
            },
          ],
        }),
      ),
    ).toEqual({
      kind: 'failed',
      reason: 'CreateContainerConfigError',
      message: 'container main: CreateContainerConfigError: secret "creds" not found',
    });
    expect(
      startStateOf(
        pod({
          phase: 'Pending',
          conditions: [
            {
              type: 'PodScheduled',
              status: 'False',
              reason: 'Unschedulable',
              message: '0/3 nodes are available',
            },
          ],
        }),
      ),
    ).toEqual({ kind: 'unschedulable', message: '0/3 nodes are available' });
    expect(startStateOf(pod({ phase: 'Pending' }))).toEqual({ kind: 'waiting' });
    expect(
      startStateOf(
        pod({
          phase: 'Pending',
          initContainerStatuses: [
            {
              name: 'jetbridge-init',
              state: { terminated: { exitCode: 1, reason: 'Error', message: 'input gone' } },
            },
          ],
        }),
      ),
    ).toMatchObject({ kind: 'failed', reason: 'InitContainerFailed' });
    expect(
      startStateOf(pod({ phase: 'Running', containerStatuses: [{ name: 'main', state: { running: {} } }] })),
    ).toEqual({ kind: 'running' });
  });

  it('reads OOMKilled, eviction and deletion as failures of a running pod', () => {
    const oom = pod({
      phase: 'Failed',
      containerStatuses: [{ name: 'main', state: { terminated: { exitCode: 137, reason: 'OOMKilled' } } }],
    });
    expect(healthOf(oom)).toEqual({
      kind: 'failed',
      reason: 'OOMKilled',
      message: 'container main terminated: OOMKilled (exit 137)',
    });
    expect(healthOf(pod({ phase: 'Failed', reason: 'Evicted', message: 'low on memory' }))).toEqual({
      kind: 'failed',
      reason: 'Evicted',
      message: 'low on memory',
    });
    expect(healthOf(pod({ phase: 'Running' }, { deletionTimestamp: '2026-01-01T00:00:00Z' }))).toMatchObject({
      reason: 'Deleted',
    });
    expect(healthOf(undefined)).toMatchObject({ reason: 'Deleted' });
    expect(
      healthOf(pod({ phase: 'Running', containerStatuses: [{ name: 'main', state: { running: {} } }] })),
    ).toEqual({
      kind: 'healthy',
    });
  });

  it('writes the diagnostic block', () => {
    const text = describePod(
      pod({
        phase: 'Failed',
        reason: 'Evicted',
        message: 'low on memory',
        conditions: [
          { type: 'DisruptionTarget', status: 'True', reason: 'TerminationByKubelet', message: 'low' },
        ],
        containerStatuses: [{ name: 'main', state: { terminated: { exitCode: 137, reason: 'Error' } } }],
      }),
      {
        events: [
          { metadata: {}, type: 'Warning', reason: 'Evicted', message: 'The node was low on resource' },
        ],
        initLog: 'copying\nfailed',
      },
    );
    expect(text.split('\n')).toEqual([
      'pod ci/jb-task-x-0123456789',
      '  phase: Failed (Evicted): low on memory',
      '  node: node-7',
      '  conditions: DisruptionTarget=True (TerminationByKubelet: low)',
      '  container main: terminated: Error, exit 137',
      '  events:',
      '    Warning Evicted: The node was low on resource',
      '  jetbridge-init log:',
      '    copying',
      '    failed',
    ]);
  });
});
