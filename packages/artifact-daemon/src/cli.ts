#!/usr/bin/env node
// jetbridge-artifact-daemon: runs on every node (a DaemonSet, see deploy/chart/templates/artifact-daemon.yaml).
import { runArtifactDaemon } from './run.js';

runArtifactDaemon(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `jetbridge-artifact-daemon: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exit(1);
  },
);
