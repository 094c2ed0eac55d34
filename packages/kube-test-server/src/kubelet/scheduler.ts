import type { Pod } from '../api/types.js';
import type { SimulatedNode } from './nodes.js';

/** `matchExpressions` of node affinity terms, as the scheduler evaluates them. */
export interface NodeSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | 'Gt' | 'Lt';
  values?: string[];
}

export interface NodeSelectorTerm {
  matchExpressions?: NodeSelectorRequirement[];
  matchFields?: NodeSelectorRequirement[];
}

export interface NodeAffinity {
  requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms: NodeSelectorTerm[] };
  preferredDuringSchedulingIgnoredDuringExecution?: { weight: number; preference: NodeSelectorTerm }[];
}

function requirementHolds(requirement: NodeSelectorRequirement, value: string | undefined): boolean {
  const values = requirement.values ?? [];
  switch (requirement.operator) {
    case 'In':
      return value !== undefined && values.includes(value);
    case 'NotIn':
      return value === undefined || !values.includes(value);
    case 'Exists':
      return value !== undefined;
    case 'DoesNotExist':
      return value === undefined;
    case 'Gt':
      return value !== undefined && Number(value) > Number(values[0]);
    case 'Lt':
      return value !== undefined && Number(value) < Number(values[0]);
  }
}

/** A term matches when all its expressions (labels) and fields (`metadata.name`) hold; an empty term matches nothing. */
function termMatches(term: NodeSelectorTerm, node: SimulatedNode): boolean {
  const expressions = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (expressions.length === 0 && fields.length === 0) return false;
  return (
    expressions.every((requirement) => requirementHolds(requirement, node.labels[requirement.key])) &&
    fields.every((requirement) =>
      requirementHolds(requirement, requirement.key === 'metadata.name' ? node.name : undefined),
    )
  );
}

function affinityOf(pod: Pod): NodeAffinity | undefined {
  const affinity = pod.spec.affinity as { nodeAffinity?: NodeAffinity } | undefined;
  return affinity?.nodeAffinity;
}

/** Whether the pod's nodeName, nodeSelector and required node affinity allow `node` (readiness aside). */
function fits(pod: Pod, node: SimulatedNode): boolean {
  if (pod.spec.nodeName !== undefined && pod.spec.nodeName !== node.name) return false;
  const selector = (pod.spec.nodeSelector ?? {}) as Record<string, string>;
  if (Object.entries(selector).some(([key, value]) => node.labels[key] !== value)) return false;
  const required = affinityOf(pod)?.requiredDuringSchedulingIgnoredDuringExecution;
  // Terms are ORed; within a term everything is ANDed.
  return required === undefined || required.nodeSelectorTerms.some((term) => termMatches(term, node));
}

export type SchedulingDecision = { node: SimulatedNode } | { unschedulable: string };

/**
 * kube-scheduler's filter and score, for the parts JetBridge uses: filter by `nodeName`, `nodeSelector`,
 * required node affinity and readiness (a lost node has the unreachable taint, which step pods do not
 * tolerate); score by preferred node affinity weights, then by fewest pods (spreading), then by name. The
 * unschedulable message has the real scheduler's shape (`0/3 nodes are available: …`).
 */
export function chooseNode(
  pod: Pod,
  nodes: readonly SimulatedNode[],
  podsOn: (node: string) => number,
): SchedulingDecision {
  const mismatched = nodes.filter((node) => !fits(pod, node));
  const notReady = nodes.filter((node) => fits(pod, node) && !node.ready);
  const feasible = nodes.filter((node) => fits(pod, node) && node.ready);
  if (feasible.length === 0) {
    const reasons: string[] = [];
    if (notReady.length > 0) {
      reasons.push(`${notReady.length} node(s) had untolerated taint {node.kubernetes.io/unreachable: }`);
    }
    if (mismatched.length > 0)
      reasons.push(`${mismatched.length} node(s) didn't match Pod's node affinity/selector`);
    const total = nodes.length;
    return {
      unschedulable: `0/${total} nodes are available: ${reasons.join(', ')}. preemption: 0/${total} nodes are available: ${total} Preemption is not helpful for scheduling.`,
    };
  }
  const preferred = affinityOf(pod)?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
  const score = (node: SimulatedNode) =>
    preferred.reduce((sum, each) => sum + (termMatches(each.preference, node) ? each.weight : 0), 0);
  const ranked = [...feasible].sort(
    (a, b) => score(b) - score(a) || podsOn(a.name) - podsOn(b.name) || a.name.localeCompare(b.name),
  );
  return { node: ranked[0] as SimulatedNode };
}
