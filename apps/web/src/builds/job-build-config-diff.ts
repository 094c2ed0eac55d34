// The diff a set_pipeline step prints (Concourse's atc/config_diff.go Config.Diff): per section, each
// group, var source, resource, resource type and job that was added, removed or changed, named in yellow,
// then its YAML with `+`/`-` lines. Objects are compared in their Go JSON form.
import { toConfigJson, type PipelineConfig } from '@jetbridge/pipeline-config';
import { stringify as toYaml } from 'yaml';

const YELLOW = '\x1b[33m';
const GREEN = '\x1b[32m';
const RED = '\x1b[31m';
const RESET = '\x1b[0m';

type Named = Record<string, unknown> & { name?: unknown };

const SECTIONS: Array<{ key: string; title: string; label: string }> = [
  { key: 'groups', title: 'groups', label: 'group' },
  { key: 'var_sources', title: 'variable source', label: 'variable source' },
  { key: 'resources', title: 'resources', label: 'resource' },
  { key: 'resource_types', title: 'resource types', label: 'resource type' },
  { key: 'jobs', title: 'jobs', label: 'job' },
];

/** The printed diff from `before` (undefined: no pipeline yet) to `after`; '' when nothing differs. */
export function pipelineConfigDiff(before: PipelineConfig | undefined, after: PipelineConfig): string {
  const old = before === undefined ? {} : (toConfigJson(before) as Record<string, unknown>);
  const next = toConfigJson(after) as Record<string, unknown>;
  let out = '';
  for (const section of SECTIONS) {
    const lines = diffSection(asList(old[section.key]), asList(next[section.key]), section.label);
    if (lines !== '') out += `${section.title}:\n${lines}`;
  }
  for (const key of ['display', 'user_data'] as const) {
    const a = old[key];
    const b = next[key];
    if (canonical(a) === canonical(b)) continue;
    const label = key === 'display' ? 'display configuration' : 'user_data';
    const what = a === undefined ? 'has been added' : b === undefined ? 'has been removed' : 'has changed';
    out += indent(`${YELLOW}${label} ${what}:${RESET}\n${renderLines(yamlOf(a), yamlOf(b))}`);
  }
  return out;
}

function diffSection(before: Named[], after: Named[], label: string): string {
  let out = '';
  const byName = (list: Named[], name: unknown) => list.find((item) => item.name === name);
  for (const item of before) {
    const replacement = byName(after, item.name);
    if (replacement === undefined) {
      out += indent(
        `${YELLOW}${label} ${String(item.name)} has been removed:${RESET}\n${renderLines(yamlOf(item), '')}`,
      );
    } else if (canonical(item) !== canonical(replacement)) {
      out += indent(
        `${YELLOW}${label} ${String(item.name)} has changed:${RESET}\n${renderLines(yamlOf(item), yamlOf(replacement))}`,
      );
    }
  }
  for (const item of after) {
    if (byName(before, item.name) === undefined) {
      out += indent(
        `${YELLOW}${label} ${String(item.name)} has been added:${RESET}\n${renderLines('', yamlOf(item))}`,
      );
    }
  }
  return out;
}

/** A line diff (longest common subsequence): common lines as they are, others with `+`/`-`. */
function renderLines(a: string, b: string): string {
  const left = a === '' ? [] : a.replace(/\n$/, '').split('\n');
  const right = b === '' ? [] : b.replace(/\n$/, '').split('\n');
  const lcs: number[][] = Array.from({ length: left.length + 1 }, () =>
    new Array<number>(right.length + 1).fill(0),
  );
  for (let i = left.length - 1; i >= 0; i--) {
    for (let j = right.length - 1; j >= 0; j--) {
      lcs[i]![j] =
        left[i] === right[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  let out = '';
  let i = 0;
  let j = 0;
  while (i < left.length || j < right.length) {
    if (i < left.length && j < right.length && left[i] === right[j]) {
      out += `${left[i]}\n`;
      i++;
      j++;
    } else if (j < right.length && (i === left.length || lcs[i]![j + 1]! >= lcs[i + 1]![j]!)) {
      out += `${GREEN}+${RESET} ${GREEN}${right[j]}${RESET}\n`;
      j++;
    } else {
      out += `${RED}-${RESET} ${RED}${left[i]}${RESET}\n`;
      i++;
    }
  }
  return out;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => (line === '' ? line : `  ${line}`))
    .join('\n');
}

function asList(value: unknown): Named[] {
  return Array.isArray(value) ? (value as Named[]) : [];
}

/** Keys sorted, as Go's YAML marshalling of a JSON map prints them. */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}

function canonical(value: unknown): string {
  return JSON.stringify(sortKeys(value)) ?? 'undefined';
}

function yamlOf(value: unknown): string {
  return value === undefined ? '' : toYaml(sortKeys(value));
}
