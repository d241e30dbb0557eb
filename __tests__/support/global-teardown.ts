/** After the jest run: remove the run's cache of synthesized stacks. */
import * as fs from 'node:fs';
import { SYNTH_CACHE_ENV } from './synth-cache';

export default function globalTeardown(): void {
  const dir = process.env[SYNTH_CACHE_ENV];
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}
