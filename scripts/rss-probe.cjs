// Preloaded by the benchmark (NODE_OPTIONS=--require): each node process appends its peak RSS in KiB.
'use strict';
const fs = require('node:fs');
const file = process.env.TRAINIUM_SPOT_RSS_FILE;
if (file) process.on('exit', () => fs.appendFileSync(file, `${process.resourceUsage().maxRSS}\n`));
