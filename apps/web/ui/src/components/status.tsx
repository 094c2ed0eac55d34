import type { BuildStatus } from '../api/types.js';
import type { StepState } from '../model/build-output.js';

/** Concourse's status colours are CSS classes (`status-failed`…); running builds animate. */
export function statusClass(status: BuildStatus | StepState | string | undefined): string {
  return `status-${status ?? 'pending'}`;
}

const ICONS: Record<string, string> = {
  succeeded: '✓',
  failed: '✗',
  errored: '!',
  aborted: '■',
  interrupted: '■',
  cancelled: '–',
  pending: '○',
  started: '●',
  running: '●',
};

export function StatusIcon({ status, label }: { status: BuildStatus | StepState; label?: string }) {
  return (
    <span
      className={`status-icon ${statusClass(status)}`}
      role="img"
      aria-label={label ?? status}
      title={label ?? status}
    >
      {ICONS[status] ?? '?'}
    </span>
  );
}

export function StatusBadge({ status }: { status: BuildStatus | string }) {
  return <span className={`status-badge ${statusClass(status)}`}>{status}</span>;
}

export function formatTime(unixSeconds: number | undefined): string {
  if (unixSeconds === undefined) return '';
  return new Date(unixSeconds * 1000).toLocaleString();
}

/** "3m ago", "2h ago", a date past a week. */
export function formatAgo(unixSeconds: number | undefined, now = Date.now() / 1000): string {
  if (unixSeconds === undefined) return '';
  const ago = Math.max(0, now - unixSeconds);
  if (ago < 60) return `${Math.floor(ago)}s ago`;
  if (ago < 3600) return `${Math.floor(ago / 60)}m ago`;
  if (ago < 86400) return `${Math.floor(ago / 3600)}h ago`;
  if (ago < 7 * 86400) return `${Math.floor(ago / 86400)}d ago`;
  return new Date(unixSeconds * 1000).toLocaleDateString();
}
