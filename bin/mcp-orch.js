#!/usr/bin/env node
// Runs the compiled CLI when installed; in a checkout without a build, runs the TypeScript via tsx.
const fs = require('node:fs');
const path = require('node:path');
const compiled = path.join(__dirname, '..', 'dist', 'client', 'cli.js');
if (fs.existsSync(compiled)) {
  require(compiled);
} else {
  require('tsx/cjs');
  require(path.join(__dirname, '..', 'src', 'client', 'cli.ts'));
}
