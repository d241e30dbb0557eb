// Bundles our own TypeScript (dependencies stay in node_modules) so that `cdktf synth` and the CLI
// start with plain `node` instead of compiling through ts-node. Type-checking lives in the tests.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const ENTRY_POINTS = { main: 'main.ts', cli: 'src/cli/main.ts' };

/** Bundles the named entry points (default: all) into dist/<name>.js. */
export async function bundle(names = Object.keys(ENTRY_POINTS)) {
  await build({
    absWorkingDir: ROOT,
    entryPoints: Object.fromEntries(names.map((name) => [name, ENTRY_POINTS[name]])),
    outdir: 'dist',
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    packages: 'external',
    logLevel: 'warning',
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await bundle(process.argv[2] ? [process.argv[2]] : undefined);
}
