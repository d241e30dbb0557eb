/** After the jest run: remove the run's cache of synthesized stacks, when the global setup opened it. */
import * as fs from 'node:fs';
import { SYNTH_CACHE_ENV, SYNTH_CACHE_OWNED_ENV } from './synth-cache';

export default function globalTeardown(): void {
  const dir = process.env[SYNTH_CACHE_ENV];
  if (dir && process.env[SYNTH_CACHE_OWNED_ENV] === '1') fs.rmSync(dir, { recursive: true, force: true });
}
