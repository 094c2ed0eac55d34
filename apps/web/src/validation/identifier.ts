/** A warning returned with a successful save (`atc.ConfigWarning`). */
export interface ConfigWarning {
  type: string;
  message: string;
}

const VALID_IDENTIFIER = /^[\p{Ll}\p{Lt}\p{Lm}\p{Lo}\d][\p{Ll}\p{Lt}\p{Lm}\p{Lo}\d\-_.]*$/u;
const BAD_FIRST_CHARACTER = /^[^\p{Ll}\p{Lt}\p{Lm}\p{Lo}\d]/u;
const INVALID_CHARACTER = /[^\p{Ll}\p{Lt}\p{Lm}\p{Lo}\d\-_.]/u;

/**
 * Concourse's identifier rule (`atc/configwarning.go` `ValidateIdentifier`) for team, pipeline, job…
 * names: an empty name is an error; otherwise a name that breaks the rule is accepted with a warning such
 * as `team: '_team' is not a valid identifier: must start with a lowercase letter or a number`.
 */
export function validateIdentifier(
  identifier: string,
  context: string,
): { error: string } | { warning: ConfigWarning } | undefined {
  if (identifier === '') return { error: `${context}: identifier cannot be an empty string` };
  const warn = (reason: string) => ({
    warning: {
      type: 'invalid_identifier',
      message: `${context}: '${identifier}' is not a valid identifier: ${reason}`,
    },
  });
  if (/^\d+$/.test(identifier)) return warn('cannot be just numbers');
  if (VALID_IDENTIFIER.test(identifier)) return undefined;
  if (BAD_FIRST_CHARACTER.test(identifier)) return warn('must start with a lowercase letter or a number');
  const bad = INVALID_CHARACTER.exec([...identifier].slice(1).join(''));
  return warn(bad ? `illegal character '${bad[0]}'` : '');
}
