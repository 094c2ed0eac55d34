// Validation of a job's steps (atc/step_validator.go): each message is prefixed with where the step is,
// e.g. `jobs.build.plan.do[0].get(repo).passed: no matching job(s) for 'unit'`.
import { parseGoDurationNanoseconds, validateTaskConfig } from '@jetbridge/plan';
import type { ConfigWarning, PipelineConfig } from './config.js';
import { goQuoteAsciiList } from './go-quote.js';
import { validateIdentifier } from './identifier.js';
import { jobStepConfig, visitBaseSteps } from './job-step.js';
import { goPathMatch } from './path-match.js';
import { stepResourceName, type Step, type StepConfig } from './steps.js';

export class StepValidator {
  readonly warnings: ConfigWarning[] = [];
  readonly errors: string[] = [];

  private readonly context: string[];
  private readonly seenGetNames = new Set<string>();
  private readonly localVarScopes: Array<Set<string>> = [new Set()];

  /** `context` starts the location of every message, e.g. `['jobs.build', '.plan']`. */
  constructor(
    private readonly config: PipelineConfig,
    context: string[],
  ) {
    this.context = [...context];
  }

  validate(step: Step): void {
    if (step.unknownFields !== undefined && Object.keys(step.unknownFields).length > 0) {
      this.recordError(`unknown fields ${goQuoteAsciiList(Object.keys(step.unknownFields))}`);
    }
    this.visit(step.config);
  }

  private visit(step: StepConfig): void {
    switch (step.kind) {
      case 'task':
        return this.within(`.task(${step.name})`, () => {
          this.checkIdentifier(step.name);
          if (step.config === undefined && (step.file ?? '') === '') {
            this.recordError('must specify either `file:` or `config:`');
          }
          if (step.config !== undefined && (step.file ?? '') !== '') {
            this.recordError('must specify one of `file:` or `config:`, not both');
          }
          if (
            step.config !== undefined &&
            ((step.config.rootfs_uri ?? '') !== '' || step.config.image_resource !== undefined) &&
            (step.image ?? '') !== ''
          ) {
            this.recordWarning({
              type: 'pipeline',
              message: this.annotate(
                'specifies image: on the step but also specifies an image under config: - the image: on the step takes precedence',
              ),
            });
          }
          if (step.hermetic === true) {
            this.recordWarning({
              type: 'pipeline',
              message: this.annotate('specifies `hermetic:` only works against worker containerd runtime'),
            });
          }
          const taskConfig = step.config;
          if (taskConfig !== undefined) {
            this.within('.config', () => {
              const unknown = Object.keys(step.configUnknownFields ?? {});
              if (unknown.length > 0) this.recordError(`unknown fields ${goQuoteAsciiList(unknown)}`);
              for (const message of validateTaskConfig(taskConfig)) this.recordError(message);
            });
          }
        });

      case 'get':
        return this.within(`.get(${step.name})`, () => {
          this.checkIdentifier(step.name);
          if (this.seenGetNames.has(step.name)) this.recordError('repeated name');
          this.seenGetNames.add(step.name);

          const resourceName = stepResourceName(step);
          if (!this.resourceExists(resourceName)) this.recordError(`unknown resource '${resourceName}'`);

          this.within('.passed', () => {
            for (const jobGlob of step.passed ?? []) {
              let foundJob = false;
              for (const job of this.config.jobs ?? []) {
                if (!goPathMatch(jobGlob, job.name)) continue;
                foundJob = true;
                let interacts = false;
                visitBaseSteps(jobStepConfig(job), {
                  onGet: (input) => {
                    if (stepResourceName(input) === resourceName) interacts = true;
                  },
                  onPut: (output) => {
                    if (stepResourceName(output) === resourceName) interacts = true;
                  },
                });
                if (!interacts) {
                  this.recordError(`job '${job.name}' does not interact with resource '${resourceName}'`);
                }
              }
              if (!foundJob) this.recordError(`no matching job(s) for '${jobGlob}'`);
            }
          });
        });

      case 'put':
        return this.within(`.put(${step.name})`, () => {
          this.checkIdentifier(step.name);
          const resourceName = stepResourceName(step);
          if (!this.resourceExists(resourceName)) this.recordError(`unknown resource '${resourceName}'`);
        });

      case 'run':
        return this.within(`.run(${step.type}.${step.message})`, () => {
          // An invalid message name is an error, so prototypes never get one.
          const check = validateIdentifier(step.message, ...this.context);
          if (check.error !== undefined) this.recordError(check.error);
          if (check.warning !== undefined) this.recordError(check.warning.message);
          if (!(this.config.prototypes ?? []).some((prototype) => prototype.name === step.type)) {
            this.recordError(`unknown prototype '${step.type}'`);
          }
        });

      case 'set_pipeline':
        return this.within(`.set_pipeline(${step.name})`, () => {
          this.checkIdentifier(step.name);
          if ((step.file ?? '') === '') this.recordError('no file specified');
        });

      case 'load_var':
        return this.within(`.load_var(${step.name})`, () => {
          this.checkIdentifier(step.name);
          this.declareLocalVar(step.name);
          if ((step.file ?? '') === '') this.recordError('no file specified');
        });

      case 'try':
        return this.within('.try', () => this.validate(step.step));

      case 'do':
        return this.within('.do', () => {
          (step.steps ?? []).forEach((sub, i) => this.within(`[${i}]`, () => this.validate(sub)));
        });

      case 'in_parallel':
        return this.within('.in_parallel', () => {
          (step.steps ?? []).forEach((sub, i) => this.within(`.steps[${i}]`, () => this.validate(sub)));
        });

      case 'across':
        return this.within('.across', () => {
          this.localVarScopes.push(new Set());
          if (step.vars.length === 0) this.recordError('no vars specified');
          step.vars.forEach((acrossVar, i) =>
            this.within(`[${i}]`, () => {
              this.declareLocalVar(acrossVar.var);
              this.within('.max_in_flight', () => {
                const limit = acrossVar.max_in_flight;
                if (typeof limit === 'number' && limit <= 0) this.recordError('must be greater than 0');
              });
            }),
          );
          this.visit(step.step);
          this.localVarScopes.pop();
        });

      case 'timeout':
        this.visit(step.step);
        return this.within('.timeout', () => {
          if (!isGoDuration(step.duration)) this.recordError(`invalid duration '${step.duration}'`);
        });

      case 'retry':
        this.visit(step.step);
        return this.within('.attempts', () => {
          if (step.attempts <= 0) this.recordError('must be greater than 0');
        });

      case 'on_success':
      case 'on_failure':
      case 'on_abort':
      case 'on_error':
      case 'ensure':
        this.visit(step.step);
        return this.within(`.${step.kind}`, () => this.validate(step.hook));
    }
  }

  private resourceExists(name: string): boolean {
    return (this.config.resources ?? []).some((resource) => resource.name === name);
  }

  private checkIdentifier(name: string): void {
    const check = validateIdentifier(name, ...this.context);
    if (check.error !== undefined) this.recordError(check.error);
    if (check.warning !== undefined) this.recordWarning(check.warning);
  }

  private declareLocalVar(name: string): void {
    const current = this.localVarScopes[this.localVarScopes.length - 1] as Set<string>;
    if (current.has(name)) {
      this.recordError('repeated var name');
    } else if (this.localVarScopes.some((scope) => scope.has(name))) {
      this.recordWarning({ type: 'var_shadowed', message: this.annotate(`shadows local var '${name}'`) });
    }
    current.add(name);
  }

  private within(part: string, body: () => void): void {
    this.context.push(part);
    try {
      body();
    } finally {
      this.context.pop();
    }
  }

  private annotate(message: string): string {
    return `${this.context.join('')}: ${message}`;
  }

  private recordError(message: string): void {
    this.errors.push(this.annotate(message));
  }

  private recordWarning(warning: ConfigWarning): void {
    this.warnings.push(warning);
  }
}

function isGoDuration(text: string): boolean {
  try {
    parseGoDurationNanoseconds(text);
    return true;
  } catch {
    return false;
  }
}
