// cdktf.json's `app`: rebuild dist/main.js only when a TypeScript source is newer than it, then run it
// in this same process. Synth after a config change costs no bundling and a single node start; esbuild
// itself is loaded only to rebuild.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BUNDLE = path.join(ROOT, 'dist', 'main.js');

function newestSource(dir) {
  return readdirSync(dir, { withFileTypes: true }).reduce((newest, entry) => {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) return Math.max(newest, newestSource(file));
    return entry.name.endsWith('.ts') ? Math.max(newest, statSync(file).mtimeMs) : newest;
  }, 0);
}

const sourcesChanged = () =>
  Math.max(statSync(path.join(ROOT, 'main.ts')).mtimeMs, newestSource(path.join(ROOT, 'src'))) > statSync(BUNDLE).mtimeMs;

if (!existsSync(BUNDLE) || sourcesChanged()) await (await import('./build.mjs')).bundle(['main']);
createRequire(import.meta.url)(BUNDLE);
