#!/usr/bin/env node
// The preflight CLI. `npm ci` builds dist/ through the `prepare` script.
'use strict';
require('../dist/cli.js')
  .main(process.argv.slice(2))
  .then((code) => process.exit(code));
