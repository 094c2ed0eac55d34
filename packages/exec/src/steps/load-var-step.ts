// The load_var step (atc/exec/load_var_step.go): read `<artifact>/<path>`, parse it by `format` (else by the
// file's extension, else `trim`) and make it the build-local var `((.:name))` for later steps, redacted in
// logs unless `reveal`. Any failure errors the step.
//
// Events: initialize → start → log "var <n> fetched." / "added var <n> to build." → finish.
import { parse as parseYaml } from 'yaml';
import type { LoadVarPlan, PlanOf } from '@jetbridge/plan';
import { FileNotFoundError } from '@jetbridge/runtime';
import { readArtifactFile, splitArtifactPath } from '../artifact-file.js';
import { finishEvent, initializeEvent, logEvent, startEvent, type EventOrigin } from '../events.js';
import { firstJsonValue } from '../resource-script.js';
import type { RunState } from '../run-state.js';
import type { Step } from '../step.js';
import { StepError } from '../step-errors.js';
import { interpolate } from '../vars/interpolate.js';
import { UnknownArtifactSourceError } from './task-config-source.js';

const FORMATS = new Set(['raw', 'trim', 'yml', 'yaml', 'json']);

export class LoadVarStep implements Step {
  constructor(
    private readonly planId: string,
    private readonly plan: LoadVarPlan,
  ) {}

  async run(state: RunState): Promise<boolean> {
    const origin: EventOrigin = { id: this.planId };
    await state.emit(initializeEvent(state.now(), origin));
    // Everything but the name is interpolated (creds.NewLoadVarPlan).
    const plan = {
      ...(await interpolate(this.plan, state.vars.lookup, { expectAllKeys: true })),
      name: this.plan.name,
    };
    await state.emit(startEvent(state.now(), origin));
    const print = (text: string): Promise<void> =>
      state.emit(logEvent(state.now(), { id: this.planId, source: 'stdout' }, state.redactor.redact(text)));

    const value = await this.fetch(plan, state);
    await print(`var ${plan.name} fetched.\n`);
    state.vars.addLocalVar(plan.name, value, plan.reveal !== true);
    await print(`added var ${plan.name} to build.\n`);
    await state.emit(finishEvent(state.now(), origin, true));
    return true;
  }

  private async fetch(plan: LoadVarPlan, state: RunState): Promise<unknown> {
    const location = splitArtifactPath(plan.file);
    if (location === undefined) {
      throw new StepError(`file '${plan.file}' does not specify where the file lives`, plan.name);
    }
    const format = fileFormat(plan);
    const volume = state.artifacts.lookup(location.artifact);
    if (volume === undefined)
      throw new UnknownArtifactSourceError(location.artifact, location.file, plan.name);
    let content: string;
    try {
      content = (await readArtifactFile(volume, location.file)).toString('utf8');
    } catch (error) {
      if (error instanceof FileNotFoundError) {
        throw new StepError(
          `file '${location.file}' not found within artifact '${location.artifact}'`,
          plan.name,
          {
            cause: error,
          },
        );
      }
      throw error;
    }
    try {
      return parseValue(content, format);
    } catch (error) {
      const shown = format === 'yml' ? 'yaml' : format;
      throw new StepError(
        `failed to parse ${plan.file} in format ${shown}: ${(error as Error).message}`,
        plan.name,
        {
          cause: error,
        },
      );
    }
  }
}

/** The plan's format, else the file's extension when it names a format, else `trim`. */
function fileFormat(plan: LoadVarPlan): string {
  const format = plan.format ?? '';
  if (FORMATS.has(format)) return format;
  if (format !== '') throw new StepError(`invalid format ${format}`, plan.name);
  const base = plan.file.slice(plan.file.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  const extension = dot < 0 ? '' : base.slice(dot + 1);
  return FORMATS.has(extension) ? extension : 'trim';
}

function parseValue(content: string, format: string): unknown {
  switch (format) {
    case 'json': {
      const decoded = firstJsonValue(content);
      if (decoded === undefined) throw new Error('EOF');
      // json.Decoder.More(): anything but whitespace after the value.
      if (content.slice(decoded.end).trim() !== '') {
        throw new Error('invalid json: characters found after top-level value');
      }
      return decoded.value;
    }
    case 'yml':
    case 'yaml':
      // sigs.k8s.io/yaml reads YAML 1.1 and converts to JSON: an empty document is null.
      return parseYaml(content, { version: '1.1' }) ?? null;
    case 'trim':
      return content.trim();
    default:
      return content;
  }
}

export function loadVarStep(plan: PlanOf<'load_var'>): Step {
  return new LoadVarStep(plan.id, plan.load_var);
}
