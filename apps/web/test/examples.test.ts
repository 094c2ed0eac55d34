// examples/ end to end on the local runtime (the embedded default): see examples-suite.ts.
import { EXAMPLES_ENV, describeExamples } from './examples-suite.js';
import { startTestServer } from './harness.js';

describeExamples({ startServer: () => startTestServer({ env: EXAMPLES_ENV }) });
