// @ts-check
// Log lines as the mock resource's logrus writes them to stderr (TextFormatter with ForceColors): a coloured
// level, seconds since start, the message padded to 44 characters, then `key=value` fields.

const LEVELS = /** @type {const} */ ({ info: ['INFO', 36], fatal: ['FATA', 31] });

/**
 * @param {keyof typeof LEVELS} level
 * @param {string} message
 * @param {Record<string, unknown>} [fields]
 */
function line(level, message, fields = {}) {
  const [text, color] = LEVELS[level];
  const seconds = String(Math.floor(process.uptime())).padStart(4, '0');
  let out = `\x1b[${color}m${text}\x1b[0m[${seconds}] ${message.replace(/\n$/, '').padEnd(44)} `;
  for (const key of Object.keys(fields).sort()) out += ` \x1b[${color}m${key}\x1b[0m=${String(fields[key])}`;
  process.stderr.write(`${out}\n`);
}

/** @param {string} message @param {Record<string, unknown>} [fields] */
export function info(message, fields) {
  line('info', message, fields);
}

/** Log and exit 1, as logrus.Fatal does. @param {string} message @returns {never} */
export function fatal(message) {
  line('fatal', message);
  process.exit(1);
}
