// Which plan node a container belongs to, from what a pod records (step type and name): the `origin.id` of the
// build events written for it outside the engine (notices, results collected after a restart).
import type { ContainerMetadata } from '@jetbridge/runtime';

/** The id of the plan node running step `metadata.stepName` as `metadata.type`, if the plan has one. */
export function stepOriginId(plan: unknown, metadata: ContainerMetadata): string | undefined {
  return stepOriginIds(plan, metadata, 1)[0];
}

/**
 * The ids of every plan node running step `metadata.stepName` as `metadata.type` (several when the name is
 * used twice: retry attempts, hooks), in plan order; at most `limit`.
 */
export function stepOriginIds(plan: unknown, metadata: ContainerMetadata, limit = Infinity): string[] {
  const name = metadata.stepName ?? metadata.resourceName;
  if (name === undefined) return [];
  const found: string[] = [];
  const visit = (node: unknown): void => {
    if (found.length >= limit || typeof node !== 'object' || node === null) return;
    if (Array.isArray(node)) {
      node.forEach(visit);
      return;
    }
    const record = node as Record<string, unknown>;
    const body = record[metadata.type];
    if (
      typeof record.id === 'string' &&
      typeof body === 'object' &&
      body !== null &&
      (body as { name?: unknown }).name === name
    ) {
      found.push(record.id);
      return;
    }
    Object.values(record).forEach(visit);
  };
  visit(plan);
  return found;
}
