import type { Job, Pipeline, PipelineGroup, Resource } from '../api/types.js';

/**
 * The pipeline page's graph, before layout: jobs, the resources they get (without `passed`) and put, and
 * `passed` constraints as job-to-job edges, as Concourse draws them. Outputs get a node of their own per
 * job, so a job that puts to the resource it gets does not make a cycle.
 */
export interface GraphNode {
  id: string;
  kind: 'job' | 'resource';
  name: string;
  job?: Job;
  resource?: Resource;
  width: number;
  height: number;
}

export interface GraphEdge {
  from: string;
  to: string;
  /** Dashed when false: a new version does not trigger the job. */
  trigger: boolean;
}

export interface PipelineGraph {
  nodes: GraphNode[];
  edges: GraphEdge[];
}

const CHAR_WIDTH = 7.5;

function nodeWidth(name: string, min: number): number {
  return Math.max(min, Math.round(name.length * CHAR_WIDTH + 24));
}

/** `*` globs in group job names, as pipeline groups allow. */
function globMatches(pattern: string, name: string): boolean {
  if (!pattern.includes('*')) return pattern === name;
  const regex = new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return regex.test(name);
}

/** The groups shown: those named (that exist), else the first group; none when the pipeline has none. */
export function selectedGroups(pipeline: Pipeline, names: readonly string[]): PipelineGroup[] {
  const groups = pipeline.groups ?? [];
  const chosen = groups.filter((g) => names.includes(g.name));
  if (chosen.length > 0) return chosen;
  return groups.slice(0, 1);
}

export function jobsInGroups(jobs: readonly Job[], groups: readonly PipelineGroup[]): Job[] {
  if (groups.length === 0) return [...jobs];
  return jobs.filter((job) =>
    groups.some((g) => (g.jobs ?? []).some((pattern) => globMatches(pattern, job.name))),
  );
}

export function pipelineGraph(jobs: readonly Job[], resources: readonly Resource[]): PipelineGraph {
  const nodes = new Map<string, GraphNode>();
  const edges: GraphEdge[] = [];
  const edgeKeys = new Set<string>();
  const resourceByName = new Map(resources.map((r) => [r.name, r]));
  const shownJobs = new Set(jobs.map((j) => j.name));

  const addEdge = (edge: GraphEdge) => {
    const key = `${edge.from}→${edge.to}`;
    if (edgeKeys.has(key)) {
      // Two inputs along the same edge: it triggers if either does.
      if (edge.trigger) {
        const existing = edges.find((e) => e.from === edge.from && e.to === edge.to);
        if (existing) existing.trigger = true;
      }
      return;
    }
    edgeKeys.add(key);
    edges.push(edge);
  };

  const resourceNode = (id: string, name: string) => {
    if (!nodes.has(id)) {
      const resource = resourceByName.get(name);
      nodes.set(id, {
        id,
        kind: 'resource',
        name,
        ...(resource ? { resource } : {}),
        width: nodeWidth(name, 90),
        height: 26,
      });
    }
    return id;
  };

  for (const job of jobs) {
    nodes.set(`job:${job.name}`, {
      id: `job:${job.name}`,
      kind: 'job',
      name: job.name,
      job,
      width: nodeWidth(job.name, 120),
      height: 36,
    });
  }
  for (const job of jobs) {
    const to = `job:${job.name}`;
    for (const input of job.inputs ?? []) {
      const trigger = input.trigger === true;
      const upstream = (input.passed ?? []).filter((name) => shownJobs.has(name));
      if (upstream.length > 0) {
        for (const name of upstream) addEdge({ from: `job:${name}`, to, trigger });
      } else {
        addEdge({ from: resourceNode(`in:${input.resource}`, input.resource), to, trigger });
      }
    }
    for (const output of job.outputs ?? []) {
      addEdge({
        from: to,
        to: resourceNode(`out:${job.name}:${output.resource}`, output.resource),
        trigger: true,
      });
    }
  }
  return { nodes: [...nodes.values()], edges };
}

/**
 * Columns of jobs for the dashboard's small preview: a job sits one column right of the furthest job its
 * `passed` constraints name (cycles are cut).
 */
export function jobColumns(jobs: readonly Job[]): Job[][] {
  const byName = new Map(jobs.map((j) => [j.name, j]));
  const depth = new Map<string, number>();
  const visiting = new Set<string>();
  const depthOf = (job: Job): number => {
    const known = depth.get(job.name);
    if (known !== undefined) return known;
    if (visiting.has(job.name)) return 0;
    visiting.add(job.name);
    let d = 0;
    for (const input of job.inputs ?? []) {
      for (const name of input.passed ?? []) {
        const upstream = byName.get(name);
        if (upstream) d = Math.max(d, depthOf(upstream) + 1);
      }
    }
    visiting.delete(job.name);
    depth.set(job.name, d);
    return d;
  };
  const columns: Job[][] = [];
  for (const job of jobs) {
    const d = depthOf(job);
    (columns[d] ??= []).push(job);
  }
  return columns.filter((c) => c !== undefined && c.length > 0);
}
