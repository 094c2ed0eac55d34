// Identifier rules (atc/configwarning.go `ValidateIdentifier`): names of groups, resources, types, jobs,
// var sources, steps, pipelines and teams. A bad identifier is only a warning (type `invalid_identifier`),
// except the empty string, which is an error.
import type { ConfigWarning } from './config.js';

const VALID_IDENTIFIER = /^[\p{Ll}\p{Lt}\p{Lm}\p{Lo}\d][\p{Ll}\p{Lt}\p{Lm}\p{Lo}\d\-_.]*$/u;
const BAD_FIRST_CHARACTER = /^[^\p{Ll}\p{Lt}\p{Lm}\p{Lo}\d]/u;
const JUST_NUMBERS = /^\d+$/;
const INVALID_CHARACTER = /[^\p{Ll}\p{Lt}\p{Lm}\p{Lo}\d\-_.]/u;

export interface IdentifierCheck {
  warning?: ConfigWarning;
  error?: string;
}

/**
 * Check `identifier`; `context` parts are joined to prefix the message (`jobs.build`, `.plan`, `.get(x)`).
 *
 * @example validateIdentifier('_pipeline', 'pipeline').warning?.message ===
 *   "pipeline: '_pipeline' is not a valid identifier: must start with a lowercase letter or a number"
 */
export function validateIdentifier(identifier: string, ...context: string[]): IdentifierCheck {
  const where = context.join('');
  if (identifier === '') return { error: `${where}: identifier cannot be an empty string` };

  // The name of a task or set_pipeline step directly inside `across` may be templated with `((.:var))`.
  const last = context[context.length - 1] ?? '';
  if (
    context.length >= 2 &&
    (last.includes('set_pipeline') || last.includes('task')) &&
    context[context.length - 2] === '.across'
  ) {
    return {};
  }

  if (JUST_NUMBERS.test(identifier)) {
    return {
      warning: invalidIdentifier(
        `${where}: '${identifier}' is not a valid identifier: cannot be just numbers`,
      ),
    };
  }

  if (!VALID_IDENTIFIER.test(identifier)) {
    let reason = '';
    if (BAD_FIRST_CHARACTER.test(identifier)) {
      reason = 'must start with a lowercase letter or a number';
    } else {
      const invalid = INVALID_CHARACTER.exec([...identifier].slice(1).join(''));
      if (invalid !== null) reason = `illegal character '${invalid[0]}'`;
    }
    return { warning: invalidIdentifier(`${where}: '${identifier}' is not a valid identifier: ${reason}`) };
  }

  return {};
}

function invalidIdentifier(message: string): ConfigWarning {
  return { type: 'invalid_identifier', message };
}
