// Decoding a whole pipeline config as `atc.UnmarshalConfig` does (atc/config.go): unknown top-level keys are
// dropped silently, everything inside the known sections is decoded strictly (an unknown key is an error),
// except steps and inline task configs whose unknown keys are kept for the validator.
import { GoDurationError } from '@jetbridge/plan';
import type {
  BuildLogRetention,
  DisplayConfig,
  GroupConfig,
  JobConfig,
  PipelineConfig,
  ResourceConfig,
  ResourceTypeConfig,
  VarSourceConfig,
} from './config.js';
import { decodeStep } from './decode-step.js';
import { canonicalGoDuration } from './go-duration-format.js';
import {
  GoJsonError,
  StructReader,
  compact,
  nested,
  rejectUnknownFields,
  typeMismatch,
  valueMismatch,
  type FieldContext,
} from './go-json.js';
import type { Step } from './steps.js';
import { isJsonObject, type JsonValue } from './yaml-source.js';

const ROOT: FieldContext = { struct: 'Config', path: [] };

/**
 * @throws GoJsonError with the message Concourse's decoder gives (without the `malformed config:` prefix).
 */
export function decodePipelineConfig(value: JsonValue): PipelineConfig {
  if (value === null) return {};
  if (!isJsonObject(value)) throw valueMismatch(value, 'atc.skeletonConfig');
  const root = new StructReader(value, ROOT);
  return compact({
    groups: structList(root, 'groups', 'GroupConfig', decodeGroup),
    var_sources: structList(root, 'var_sources', 'VarSourceConfig', decodeVarSource),
    resources: structList(root, 'resources', 'ResourceConfig', decodeResource),
    resource_types: structList(root, 'resource_types', 'ResourceType', decodeResourceType),
    prototypes: structList(root, 'prototypes', 'Prototype', decodeResourceType),
    jobs: structList(root, 'jobs', 'JobConfig', decodeJob),
    display: decodeDisplay(root),
    user_data: root.raw('user_data'),
  });
}

function structList<T>(
  root: StructReader,
  field: string,
  struct: string,
  decode: (reader: StructReader) => T,
): T[] | undefined {
  const items = root.array(field, `atc.${struct}s`);
  if (items === undefined) return undefined;
  const context = nested(root.context, field, struct);
  return items.map((item) => decode(structReader(item, context, FIELDS[struct] ?? new Set())));
}

function structReader(value: JsonValue, context: FieldContext, known: ReadonlySet<string>): StructReader {
  if (value === null) return new StructReader({}, context);
  if (!isJsonObject(value)) {
    const parent = context.path.slice(0, -1);
    const field = context.path[context.path.length - 1] ?? '';
    throw typeMismatch(value, { struct: context.struct, path: parent }, field, `atc.${context.struct}`);
  }
  rejectUnknownFields(value, known);
  return new StructReader(value, context);
}

const FIELDS: Record<string, ReadonlySet<string>> = {
  GroupConfig: new Set(['name', 'jobs', 'resources']),
  VarSourceConfig: new Set(['name', 'type', 'config']),
  ResourceConfig: new Set([
    'name',
    'old_name',
    'public',
    'webhook_token',
    'type',
    'source',
    'check_every',
    'check_timeout',
    'tags',
    'version',
    'icon',
    'expose_build_created_by',
  ]),
  ResourceType: new Set([
    'name',
    'type',
    'source',
    'defaults',
    'privileged',
    'check_every',
    'tags',
    'params',
  ]),
  Prototype: new Set(['name', 'type', 'source', 'defaults', 'privileged', 'check_every', 'tags', 'params']),
  JobConfig: new Set([
    'name',
    'old_name',
    'public',
    'disable_manual_trigger',
    'disable_reruns',
    'serial',
    'interruptible',
    'serial_groups',
    'max_in_flight',
    'tags',
    'build_logs_to_retain',
    'build_log_retention',
    'on_success',
    'on_failure',
    'on_abort',
    'on_error',
    'ensure',
    'plan',
  ]),
  BuildLogRetention: new Set(['builds', 'minimum_succeeded_builds', 'days']),
  DisplayConfig: new Set(['background_image', 'background_filter']),
};

function decodeGroup(reader: StructReader): GroupConfig {
  return compact({
    name: reader.string('name') ?? '',
    jobs: reader.strings('jobs'),
    resources: reader.strings('resources'),
  });
}

function decodeVarSource(reader: StructReader): VarSourceConfig {
  return compact({
    name: reader.string('name') ?? '',
    type: reader.string('type') ?? '',
    config: reader.raw('config'),
  });
}

function decodeResource(reader: StructReader): ResourceConfig {
  return compact({
    name: reader.string('name') ?? '',
    old_name: reader.string('old_name'),
    public: reader.boolean('public'),
    webhook_token: reader.string('webhook_token'),
    type: reader.string('type') ?? '',
    source: reader.map('source', 'atc.Source'),
    check_every: decodeCheckEvery(reader.raw('check_every')),
    check_timeout: reader.string('check_timeout'),
    tags: reader.tags('tags'),
    version: reader.stringMap('version', 'atc.Version'),
    icon: reader.string('icon'),
    expose_build_created_by: reader.boolean('expose_build_created_by'),
  });
}

function decodeResourceType(reader: StructReader): ResourceTypeConfig {
  return compact({
    name: reader.string('name') ?? '',
    type: reader.string('type') ?? '',
    source: reader.map('source', 'atc.Source'),
    defaults: reader.map('defaults', 'atc.Source'),
    privileged: reader.boolean('privileged'),
    check_every: decodeCheckEvery(reader.raw('check_every')),
    tags: reader.tags('tags'),
    params: reader.map('params', 'atc.Params'),
  });
}

/**
 * `atc.CheckEvery`: a string, `never` or a Go duration. Kept in the form Concourse stores and returns:
 * Go's canonical duration (`90s` → `1m30s`), `""` for a zero interval (the default applies).
 */
function decodeCheckEvery(value: JsonValue | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new GoJsonError('non-string value provided');
  if (value === '' || value === 'never') return value;
  let canonical: string;
  try {
    canonical = canonicalGoDuration(value);
  } catch (error) {
    if (error instanceof GoDurationError) throw new GoJsonError(error.message);
    throw error;
  }
  return canonical === '0s' ? '' : canonical;
}

function decodeJob(reader: StructReader): JobConfig {
  const retention = reader.raw('build_log_retention');
  return compact({
    name: reader.string('name') ?? '',
    old_name: reader.string('old_name'),
    public: reader.boolean('public'),
    disable_manual_trigger: reader.boolean('disable_manual_trigger'),
    disable_reruns: reader.boolean('disable_reruns'),
    serial: reader.boolean('serial'),
    interruptible: reader.boolean('interruptible'),
    serial_groups: reader.strings('serial_groups'),
    max_in_flight: reader.integer('max_in_flight'),
    tags: reader.tags('tags'),
    build_logs_to_retain: reader.integer('build_logs_to_retain'),
    build_log_retention:
      retention === undefined
        ? undefined
        : decodeRetention(
            structReader(
              retention,
              nested(reader.context, 'build_log_retention', 'BuildLogRetention'),
              FIELDS['BuildLogRetention'] as ReadonlySet<string>,
            ),
          ),
    on_success: optionalStep(reader, 'on_success'),
    on_failure: optionalStep(reader, 'on_failure'),
    on_abort: optionalStep(reader, 'on_abort'),
    on_error: optionalStep(reader, 'on_error'),
    ensure: optionalStep(reader, 'ensure'),
    plan: reader.array('plan', '[]atc.Step')?.map(decodeStep),
  });
}

/** Job hooks are `*Step`: null means no hook. */
function optionalStep(reader: StructReader, field: string): Step | undefined {
  const value = reader.raw(field);
  return value === undefined ? undefined : decodeStep(value);
}

function decodeRetention(reader: StructReader): BuildLogRetention {
  return compact({
    builds: reader.integer('builds'),
    minimum_succeeded_builds: reader.integer('minimum_succeeded_builds'),
    days: reader.integer('days'),
  });
}

function decodeDisplay(root: StructReader): DisplayConfig | undefined {
  const value = root.raw('display');
  if (value === undefined) return undefined;
  const reader = structReader(
    value,
    nested(root.context, 'display', 'DisplayConfig'),
    FIELDS['DisplayConfig'] as ReadonlySet<string>,
  );
  return compact({
    background_image: reader.string('background_image'),
    background_filter: reader.string('background_filter'),
  });
}
