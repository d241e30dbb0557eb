#!/usr/bin/env node
// The preflight CLI. `npm ci` builds dist/ through the `prepare` script.
'use strict';
require('../dist/cli.js')
  .main(process.argv.slice(2))
  .then((code) => {
    // exitCode, not exit(): lets piped stdout drain before the process ends.
    process.exitCode = code;
  });
