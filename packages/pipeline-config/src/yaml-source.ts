// Turning pipeline text into plain JSON-shaped data, the way Concourse's `sigs.k8s.io/yaml` does: YAML 1.1
// scalars (`yes`/`on`/`y` are booleans, `0777` is octal), anchors and `<<` merge keys resolved, non-string keys
// stringified, only the first document read. Timestamps and sexagesimal numbers stay strings, as go-yaml v2
// leaves them when decoding into `interface{}`.
import { LineCounter, isScalar, parseAllDocuments, visit, type Document, type Scalar } from 'yaml';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** The outcome of reading a pipeline's text: JSON-shaped data, or the problems that prevented it. */
export type YamlSourceResult = { ok: true; value: JsonValue } | { ok: false; errors: string[] };

const GO_YAML_UNRESOLVED_TAGS = new Set(['tag:yaml.org,2002:timestamp']);
const GO_YAML_UNRESOLVED_NAMES = new Set(['timestamp', 'intTime', 'floatTime']);

/**
 * How many nodes aliases may expand to (npm yaml's maxAliasCount): generous for `<<: *defaults` used all over a
 * pipeline, but a "billion laughs" document is refused instead of exhausting the web node's memory — as go-yaml
 * refuses it ("document contains excessive aliasing", no limit below 400,000 decoded nodes).
 */
const MAX_ALIAS_EXPANSION = 400_000;

export function readYamlSource(text: string): YamlSourceResult {
  const lineCounter = new LineCounter();
  const parsed = parseAllDocuments(text, {
    version: '1.1',
    merge: true,
    uniqueKeys: false, // duplicates are reported below with both positions, as yaml.v3 does
    lineCounter,
    customTags: (tags) =>
      tags.filter((tag) =>
        typeof tag === 'string'
          ? !GO_YAML_UNRESOLVED_NAMES.has(tag)
          : !GO_YAML_UNRESOLVED_TAGS.has(tag.tag) && tag.format !== 'TIME',
      ),
  });
  // An empty stream is an empty config (Concourse then reports the missing jobs).
  if (!Array.isArray(parsed) || parsed.length === 0) return { ok: true, value: null };
  const document = parsed[0] as Document.Parsed;

  const position = (offset: number): string => {
    const { line, col } = lineCounter.linePos(offset);
    return `line ${line}, column ${col}`;
  };

  const errors = document.errors.map(
    (error) => `yaml: ${position(error.pos[0])}: ${firstLine(error.message)}`,
  );
  errors.push(...duplicateKeyErrors(document, lineCounter));
  if (errors.length > 0) return { ok: false, errors };

  try {
    return {
      ok: true,
      value: toJsonValue(document.toJS({ mapAsMap: true, maxAliasCount: MAX_ALIAS_EXPANSION })),
    };
  } catch (error) {
    const message = (error as Error).message;
    // go-yaml's words for the same refusal.
    if (/excessive alias count/i.test(message))
      return { ok: false, errors: ['yaml: document contains excessive aliasing'] };
    return { ok: false, errors: [`yaml: ${message}`] };
  }
}

/** npm `yaml` appends " at line L, column C:" and a source excerpt; the position is reported separately. */
function firstLine(message: string): string {
  return message.replace(/ at line \d+, column \d+:[\s\S]*$/, '').split('\n')[0] ?? message;
}

function duplicateKeyErrors(document: Document.Parsed, lineCounter: LineCounter): string[] {
  const errors: string[] = [];
  visit(document, {
    Map(_, map) {
      const seen = new Map<string, number>();
      for (const pair of map.items) {
        if (!isScalar(pair.key)) continue;
        const key = pair.key as Scalar;
        if (typeof key.value === 'symbol' || key.value === '<<') continue; // merge keys may repeat
        const name = goKeyString(key.value);
        const offset = key.range?.[0] ?? 0;
        const previous = seen.get(name);
        if (previous !== undefined) {
          const at = lineCounter.linePos(offset);
          const before = lineCounter.linePos(previous);
          errors.push(
            `yaml: line ${at.line}, column ${at.col}: mapping key ${JSON.stringify(name)} already defined at line ${before.line}, column ${before.col}`,
          );
        } else {
          seen.set(name, offset);
        }
      }
    },
  });
  return errors;
}

/** Map keys as sigs.k8s.io/yaml writes them into JSON: `true`, `1`, `1.5`, `null`. */
function goKeyString(key: unknown): string {
  if (typeof key === 'string') return key;
  if (key === null || key === undefined) return 'null';
  if (typeof key === 'boolean' || typeof key === 'number' || typeof key === 'bigint') return String(key);
  if (key instanceof Uint8Array) return Buffer.from(key).toString('utf8');
  return JSON.stringify(toJsonValue(key));
}

function toJsonValue(value: unknown): JsonValue {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8'); // !!binary: Go keeps the bytes as a string
  if (Array.isArray(value)) return value.map(toJsonValue);
  const result: { [key: string]: JsonValue } = {};
  if (value instanceof Set) {
    for (const key of value) setOwn(result, goKeyString(key), null);
    return result;
  }
  if (value instanceof Map) {
    for (const [key, item] of value) setOwn(result, goKeyString(key), toJsonValue(item));
    return result;
  }
  if (typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) setOwn(result, key, toJsonValue(item));
    return result;
  }
  return String(value);
}

export function isJsonObject(value: unknown): value is { [key: string]: JsonValue } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Sets an own property, so a `__proto__` key in a config stays data instead of changing a prototype. */
export function setOwn(target: { [key: string]: JsonValue }, key: string, value: JsonValue): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Whether go-yaml reads `text` as a plain string (not a number, bool, null, list or map, and no error). */
export function yamlReadsAsString(text: string): boolean {
  const result = readYamlSource(text);
  return result.ok && typeof result.value === 'string';
}
