// Status badges (`GET P/badge`, `GET P/jobs/:job/badge`; Concourse's atc/api/jobserver/badge.go): a
// shields-style SVG for a build status, with an optional custom `?title=`.
import type { BuildStatus } from '@jetbridge/db';
import type { FastifyReply } from 'fastify';

interface Badge {
  width: number;
  fill: string;
  status: string;
  title: string;
  customTitle: boolean;
}

const BADGES: Record<
  'passing' | 'failing' | 'unknown' | 'aborted' | 'errored',
  Omit<Badge, 'title' | 'customTitle'>
> = {
  passing: { width: 88, fill: '#44cc11', status: 'passing' },
  failing: { width: 80, fill: '#e05d44', status: 'failing' },
  unknown: { width: 98, fill: '#9f9f9f', status: 'unknown' },
  aborted: { width: 90, fill: '#8f4b2d', status: 'aborted' },
  errored: { width: 88, fill: '#fe7d37', status: 'errored' },
};

function badgeFor(status: BuildStatus | undefined): Badge {
  const kind =
    status === 'succeeded'
      ? 'passing'
      : status === 'failed'
        ? 'failing'
        : status === 'aborted'
          ? 'aborted'
          : status === 'errored'
            ? 'errored'
            : 'unknown';
  return { ...BADGES[kind], title: 'build', customTitle: false };
}

/** Title width: 37 for the default title, else 6 per character plus padding that shrinks with length. */
function titleWidth(badge: Badge): number {
  if (!badge.customTitle) return 37;
  const length = badge.title.length;
  return length * 6 + (length <= 8 ? 12 : length <= 15 ? 6 : 0);
}

/** Go's `html.EscapeString`. */
function escapeHtml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll("'", '&#39;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&#34;');
}

function withTitle(badge: Badge, title: string | undefined): Badge {
  if (title === undefined || title === '') return badge;
  const statusWidth = badge.width - 37;
  const titled = { ...badge, title: escapeHtml(title), customTitle: true };
  return { ...titled, width: titleWidth(titled) + statusWidth };
}

function svg(badge: Badge): string {
  const tw = titleWidth(badge);
  const sw = badge.width - tw;
  const titleX = badge.customTitle ? (tw / 2).toFixed(1) : '18.5';
  const statusX = badge.customTitle ? (tw + sw / 2).toFixed(1) : (badge.width / 2 + 17.5).toFixed(1);
  return `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="${badge.width}" height="20">
   <linearGradient id="b" x2="0" y2="100%">
      <stop offset="0" stop-color="#bbb" stop-opacity=".1" />
      <stop offset="1" stop-opacity=".1" />
   </linearGradient>
   <mask id="a">
      <rect width="${badge.width}" height="20" rx="3" fill="#fff" />
   </mask>
   <g mask="url(#a)">
      <path fill="#555" d="M0 0h${tw}v20H0z" />
      <path fill="${badge.fill}" d="M${tw} 0h${sw}v20H${tw}z" />
      <path fill="url(#b)" d="M0 0h${badge.width}v20H0z" />
   </g>
   <g fill="#fff" text-anchor="middle" font-family="DejaVu Sans,Verdana,Geneva,sans-serif" font-size="11">
      <text x="${titleX}" y="15" fill="#010101" fill-opacity=".3">${badge.title}</text>
      <text x="${titleX}" y="14">${badge.title}</text>
      <text x="${statusX}" y="15" fill="#010101" fill-opacity=".3">${badge.status}</text>
      <text x="${statusX}" y="14">${badge.status}</text>
   </g>
</svg>`;
}

/** Precedence when a pipeline badge summarises several jobs: the worst finished status wins. */
const STATUS_PRECEDENCE: Partial<Record<BuildStatus, number>> = {
  failed: 1,
  errored: 2,
  aborted: 3,
  succeeded: 4,
};

/** The status a pipeline badge shows: the worst of its jobs' finished builds (`badgeForPipeline`). */
export function worstStatus(statuses: ReadonlyArray<BuildStatus>): BuildStatus | undefined {
  let worst: BuildStatus | undefined;
  for (const status of statuses) {
    if (worst === undefined || (STATUS_PRECEDENCE[status] ?? 0) < (STATUS_PRECEDENCE[worst] ?? 0))
      worst = status;
  }
  return worst;
}

/** Answer with the badge for `status` (undefined = no finished build), never cached. */
export function sendBadge(
  reply: FastifyReply,
  status: BuildStatus | undefined,
  title: string | undefined,
): FastifyReply {
  return reply
    .code(200)
    .header('content-type', 'image/svg+xml')
    .header('cache-control', 'no-cache, no-store, must-revalidate')
    .header('expires', '0')
    .send(svg(withTitle(badgeFor(status), title)));
}
