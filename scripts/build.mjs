// Bundles our own TypeScript (dependencies stay in node_modules) so that `cdktf synth` and the CLI
// start with plain `node` instead of compiling through ts-node. Type-checking lives in the tests.
import { build } from 'esbuild';

const entryPoints = { main: 'main.ts', cli: 'src/cli/main.ts' };
const only = process.argv[2];

await build({
  entryPoints: only ? { [only]: entryPoints[only] } : entryPoints,
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  packages: 'external',
  logLevel: 'warning',
});
