import type { KubeObject } from './types.js';

/** Single objects and watch events carry kind/apiVersion; list items do not (the real server strips them). */
export function withKind<T extends KubeObject>(kind: string, apiVersion = 'v1'): (object: T) => T {
  return (object) => ({ ...object, kind, apiVersion });
}

export function listOf<T extends KubeObject>(kind: string, items: T[], resourceVersion: number): unknown {
  return {
    kind: `${kind}List`,
    apiVersion: 'v1',
    metadata: { resourceVersion: String(resourceVersion) },
    items: items.map((item) => {
      const copy: Partial<T> = { ...item };
      delete copy.kind;
      delete copy.apiVersion;
      return copy;
    }),
  };
}

/** RFC 7386 JSON merge patch (also used for strategic merge patches of maps such as labels/annotations). */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const result: Record<string, unknown> =
    target !== null && typeof target === 'object' && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [key, value] of Object.entries(patch as Record<string, unknown>)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}
