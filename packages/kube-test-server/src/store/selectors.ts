import { ApiError } from '../api/api-error.js';
import type { KubeObject } from '../api/types.js';

type Requirement =
  { key: string; op: 'exists' | 'notExists' } | { key: string; op: 'in' | 'notIn'; values: string[] };

/** Splits on commas that are not inside a `(…)` value set. */
function splitTerms(selector: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let current = '';
  for (const char of selector) {
    if (char === '(') depth += 1;
    if (char === ')') depth -= 1;
    if (char === ',' && depth === 0) {
      terms.push(current.trim());
      current = '';
    } else {
      current += char;
    }
  }
  if (current.trim() !== '') terms.push(current.trim());
  return terms.filter((term) => term !== '');
}

function parseLabelRequirement(term: string): Requirement {
  let match = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
  if (match) {
    const values = (match[3] ?? '').split(',').map((value) => value.trim());
    return { key: match[1] ?? '', op: match[2] === 'in' ? 'in' : 'notIn', values };
  }
  match = /^([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)$/.exec(term);
  if (match) {
    return { key: match[1] ?? '', op: match[2] === '!=' ? 'notIn' : 'in', values: [match[3] ?? ''] };
  }
  match = /^(!?)([\w./-]+)$/.exec(term);
  if (match) return { key: match[2] ?? '', op: match[1] === '!' ? 'notExists' : 'exists' };
  throw ApiError.badRequest(`unable to parse requirement: ${term}`);
}

/** Compiles a label selector (`a=b,c!=d,e in (f,g),!h`) into a predicate over an object's labels. */
export function labelSelector(selector: string | null): (object: KubeObject) => boolean {
  if (!selector) return () => true;
  const requirements = splitTerms(selector).map(parseLabelRequirement);
  return (object) => {
    const labels = object.metadata.labels ?? {};
    return requirements.every((requirement) => {
      const value = labels[requirement.key];
      switch (requirement.op) {
        case 'exists':
          return value !== undefined;
        case 'notExists':
          return value === undefined;
        case 'in':
          return value !== undefined && requirement.values.includes(value);
        case 'notIn':
          return value === undefined || !requirement.values.includes(value);
      }
    });
  };
}

function fieldValue(object: unknown, path: string): string {
  let current: unknown = object;
  for (const part of path.split('.')) {
    if (current === null || typeof current !== 'object') return '';
    current = (current as Record<string, unknown>)[part];
  }
  return current === undefined || current === null ? '' : String(current);
}

/** Compiles a field selector (`metadata.name=x,status.phase!=Running`) over dotted paths of the object. */
export function fieldSelector(selector: string | null): (object: KubeObject) => boolean {
  if (!selector) return () => true;
  const terms = splitTerms(selector).map((term) => {
    const match = /^([\w.]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!match) throw ApiError.badRequest(`invalid field selector: ${term}`);
    return { path: match[1] ?? '', negate: match[2] === '!=', value: match[3] ?? '' };
  });
  return (object) => terms.every((term) => (fieldValue(object, term.path) === term.value) !== term.negate);
}
