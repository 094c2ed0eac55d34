#!/usr/bin/env node
// The package's command. A file of its own (not dist/cli.js) so that installing links it before anything is built.
import '../dist/cli.js';
