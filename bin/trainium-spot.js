#!/usr/bin/env node
// The preflight CLI. `npm ci` builds dist/ through the `prepare` script.
'use strict';
const path = require('node:path');
const { loadBundle } = require('../scripts/load-bundle.cjs');

loadBundle(path.join(__dirname, '..', 'dist', 'cli.js'))
  .main(process.argv.slice(2))
  .then((code) => {
    // exitCode, not exit(): lets piped stdout drain before the process ends.
    process.exitCode = code;
  });
