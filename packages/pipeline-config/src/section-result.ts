import type { ConfigWarning } from './config.js';

/** What one section's validation found; errors become one `invalid <section>:` block. */
export interface SectionResult {
  warnings: ConfigWarning[];
  errors: string[];
}
