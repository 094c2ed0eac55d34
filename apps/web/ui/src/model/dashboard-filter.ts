import type { Job, Pipeline } from '../api/types.js';
import { pipelineStatus } from './pipeline-status.js';

/**
 * The dashboard's search box, with Concourse's syntax: space-separated terms, each optionally negated
 * with a leading `-`; `team:NAME` matches teams, `status:S` pipeline statuses (paused, aborted, errored,
 * failed, pending, succeeded, running), anything else pipeline names. Name and team terms match fuzzily
 * (the letters in order, case-insensitive). Every term must hold.
 */
export const STATUS_KEYWORDS = [
  'paused',
  'aborted',
  'errored',
  'failed',
  'pending',
  'succeeded',
  'running',
] as const;
export type StatusKeyword = (typeof STATUS_KEYWORDS)[number];

export type SearchTerm =
  | { kind: 'team'; value: string; negate: boolean }
  | { kind: 'status'; value: StatusKeyword; negate: boolean }
  | { kind: 'name'; value: string; negate: boolean };

export function parseSearch(query: string): SearchTerm[] {
  const terms: SearchTerm[] = [];
  // `team: main` (a space after the colon) is one term, as Concourse's parser allows spaces there.
  const words = query
    .replace(/\b(team|status):\s+/g, '$1:')
    .split(/\s+/)
    .filter((w) => w !== '');
  for (const word of words) {
    const negate = word.startsWith('-') && word.length > 1;
    const body = negate ? word.slice(1) : word;
    const team = /^team:(.*)$/.exec(body);
    if (team) {
      terms.push({ kind: 'team', value: team[1] ?? '', negate });
      continue;
    }
    const status = /^status:(.*)$/.exec(body);
    if (status && (STATUS_KEYWORDS as readonly string[]).includes(status[1] ?? '')) {
      terms.push({ kind: 'status', value: status[1] as StatusKeyword, negate });
      continue;
    }
    terms.push({ kind: 'name', value: body, negate });
  }
  return terms;
}

/** Letters of `needle` appear in `haystack` in order, ignoring case (Simple.Fuzzy's match). */
export function fuzzyMatch(needle: string, haystack: string): boolean {
  const n = needle.toLowerCase();
  const h = haystack.toLowerCase();
  let at = 0;
  for (const char of n) {
    at = h.indexOf(char, at);
    if (at === -1) return false;
    at += 1;
  }
  return true;
}

function statusMatches(keyword: StatusKeyword, pipeline: Pipeline, jobs: readonly Job[]): boolean {
  const status = pipelineStatus(pipeline, jobs);
  if (keyword === 'running') return status.running;
  return status.status === keyword;
}

function termHolds(term: SearchTerm, pipeline: Pipeline, jobs: readonly Job[]): boolean {
  switch (term.kind) {
    case 'team':
      return fuzzyMatch(term.value, pipeline.team_name);
    case 'status':
      return statusMatches(term.value, pipeline, jobs);
    case 'name':
      return fuzzyMatch(term.value, pipeline.name);
  }
}

/** Team names and, per team, the pipelines that pass every term; teams with no pipeline left are dropped. */
export function filterPipelines(
  terms: readonly SearchTerm[],
  pipelines: readonly Pipeline[],
  jobsOf: (pipeline: Pipeline) => readonly Job[],
): Pipeline[] {
  return pipelines.filter((pipeline) =>
    terms.every((term) => termHolds(term, pipeline, jobsOf(pipeline)) !== term.negate),
  );
}

/** Whether the team group itself survives the team terms (so a team with no pipelines can still show). */
export function teamPasses(terms: readonly SearchTerm[], team: string): boolean {
  return terms.every((term) => term.kind !== 'team' || fuzzyMatch(term.value, team) !== term.negate);
}
