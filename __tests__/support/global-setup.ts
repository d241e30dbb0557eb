/**
 * Once per jest run, before any test file: bundle the app and the CLI (the child-process tests run
 * dist/main.js and bin/trainium-spot.js), and open the run's shared cache of synthesized stacks
 * (support/synth.ts), so that each configuration is synthesized once per run, not once per test; or use
 * the one the caller names in TRAINIUM_SPOT_SYNTH_CACHE.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SYNTH_CACHE_ENV, SYNTH_CACHE_OWNED_ENV } from './synth-cache';

const ROOT = path.resolve(__dirname, '..', '..');

export default function globalSetup(): void {
  const build = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, encoding: 'utf8' });
  if (build.status !== 0 || build.stderr !== '') {
    throw new Error(`scripts/build.mjs failed (exit ${build.status}):\n${build.stderr}`);
  }
  // Test workers start after this and inherit the variable. A cache the caller opened (scripts/test-all.sh
  // shares one between the jest runs of one `npm test`) is used as it is and left to the caller to remove.
  if (process.env[SYNTH_CACHE_ENV]) return;
  process.env[SYNTH_CACHE_ENV] = fs.mkdtempSync(path.join(os.tmpdir(), 'trainium-spot-synth-'));
  process.env[SYNTH_CACHE_OWNED_ENV] = '1';
}
