// Bundles the app and the CLI, each with every dependency it needs, into one file: dist/main.js and
// dist/cli.js. One file to read and compile starts far faster than hundreds of modules resolved one by
// one from node_modules (scripts/load-bundle.cjs then keeps V8's code cache of it). Provider classes
// stay imported by deep path, so only the resources the stack uses are in the bundle.
// Type-checking lives in the tests.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const ENTRY_POINTS = { main: 'main.ts', cli: 'src/cli/main.ts' };

/**
 * Packages cdktf requires at load time for features the app never uses: archiver (zipping assets,
 * with graceful-fs, readable-stream and glob behind it) and semver (checking the terraform binary's
 * version, a validation the app skips). Each stays in the bundle but is initialised on first use.
 */
const LOAD_ON_FIRST_USE = ['archiver', 'semver'];

/** Replaces `require(name)` of LOAD_ON_FIRST_USE with a stand-in that requires the package when first touched. */
const loadOnFirstUse = {
  name: 'load-on-first-use',
  setup(build) {
    const filter = new RegExp(`^(${LOAD_ON_FIRST_USE.join('|')})$`);
    // The stand-in's own require() (namespace on-first-use) resolves as usual, to the real package.
    build.onResolve({ filter }, (args) => (args.namespace === 'on-first-use'
      ? undefined
      : { path: args.path, namespace: 'on-first-use', pluginData: args.resolveDir }));
    build.onLoad({ filter: /.*/, namespace: 'on-first-use' }, (args) => ({
      resolveDir: args.pluginData,
      contents: `let real;
const load = () => (real ??= require(${JSON.stringify(args.path)}));
module.exports = new Proxy(function () {}, { get: (_, key) => load()[key], apply: (_, self, args) => Reflect.apply(load(), self, args) });`,
    }));
  },
};

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
    // import() becomes require(): modules loaded on first use (the AWS SDK, node:readline) stay in the
    // bundle, still loaded lazily, and the bundle runs as a plain script (scripts/load-bundle.cjs).
    supported: { 'dynamic-import': false },
    // Names stay readable in stack traces; whitespace and syntax are what parsing pays for.
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'none',
    plugins: [loadOnFirstUse],
    logLevel: 'warning',
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await bundle(process.argv[2] ? [process.argv[2]] : undefined);
}
