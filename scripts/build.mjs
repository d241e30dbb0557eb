// Bundles the app and the CLI, each with every dependency it needs, into dist/main.js and dist/cli.js,
// and the parts of the AWS SDK the CLI loads on first use into dist/aws-sdk.js. One file to read and
// compile starts far faster than hundreds of modules resolved one by one from node_modules; each
// bundle runs through scripts/load-bundle.cjs, from V8's code cache, which the build warms by running
// the app and the CLI once. Provider classes stay imported by deep path, so only the resources the
// stack uses are in the bundle. Type-checking lives in the tests.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const ENTRY_POINTS = { main: 'main.ts', cli: 'src/cli/main.ts' };

/**
 * The parts of the AWS SDK clients the CLI uses (src/cli/sdk/<name>.ts), which src/cli/aws.ts requires
 * on first use; they live together in dist/aws-sdk.js, built from the SDK's ES modules so that only
 * the commands named there are kept (client-ec2 alone has hundreds), loaded all at once on the first.
 */
const SDK_PARTS = ['ec2', 'service-quotas', 'ssm', 'cloudwatch'];

/**
 * Packages cdktf requires at load time for features the app never uses: archiver (zipping assets,
 * with graceful-fs, readable-stream and glob behind it) and semver (checking the terraform binary's
 * version, a validation the app skips). Each stays in the bundle but is initialised on first use.
 */
const LOAD_ON_FIRST_USE = ['archiver', 'semver'];

const exactly = (names) => new RegExp(`^(${names.map((name) => name.replace(/[/.-]/g, '\\$&')).join('|')})$`);

/** Replaces `require(name)` of LOAD_ON_FIRST_USE with a stand-in that requires the package when first touched. */
const loadOnFirstUse = {
  name: 'load-on-first-use',
  setup(build) {
    // The stand-in's own require() (namespace on-first-use) resolves as usual, to the real package.
    build.onResolve({ filter: exactly(LOAD_ON_FIRST_USE) }, (args) => (args.namespace === 'on-first-use'
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

/** Points the CLI's require() of an SDK part at dist/aws-sdk.js, loaded (through the code cache) when first called. */
const sdkFromItsBundle = {
  name: 'sdk-from-its-bundle',
  setup(build) {
    build.onResolve({ filter: new RegExp(`^\\./sdk/(${SDK_PARTS.join('|')})$`) }, (args) => ({ path: args.path.slice('./sdk/'.length), namespace: 'sdk-part' }));
    build.onResolve({ filter: /load-bundle\.cjs$/ }, (args) => ({ path: args.path, external: true }));
    build.onLoad({ filter: /.*/, namespace: 'sdk-part' }, (args) => ({
      contents: `module.exports = require('../scripts/load-bundle.cjs')
  .loadBundle(require('node:path').join(__dirname, 'aws-sdk.js'))[${JSON.stringify(args.path)}];`,
    }));
  },
};

const COMMON = {
  absWorkingDir: ROOT,
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // import() becomes require(): modules loaded on first use (node:readline, the SDK's credential
  // providers) stay in the bundle, still loaded lazily, and it runs as a plain script.
  supported: { 'dynamic-import': false },
  // Names stay readable in stack traces; whitespace and syntax are what parsing pays for.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
};

/**
 * Bundles the named entry points (default: all) into dist/<name>.js; the CLI brings dist/aws-sdk.js.
 * `warm` runs each fresh bundle once so that its code cache is ready before the first real start.
 */
export async function bundle(names = Object.keys(ENTRY_POINTS), { warm = false } = {}) {
  await build({
    ...COMMON,
    entryPoints: Object.fromEntries(names.map((name) => [name, ENTRY_POINTS[name]])),
    plugins: [loadOnFirstUse, sdkFromItsBundle],
  });
  if (names.includes('cli')) {
    await build({
      ...COMMON,
      stdin: {
        // Static re-exports, not require(): only an ES module graph is tree-shaken.
        contents: SDK_PARTS.map((part) => `export * as ${JSON.stringify(part)} from './src/cli/sdk/${part}';`).join('\n'),
        resolveDir: ROOT,
        sourcefile: 'aws-sdk.js',
      },
      // The SDK's ES modules (its `module` field) let esbuild drop the commands the CLI never sends.
      mainFields: ['module', 'main'],
      outdir: undefined,
      outfile: 'dist/aws-sdk.js',
    });
  }
  if (warm) warmCodeCaches(names);
}

/**
 * One run of each bundle, in a child process with plain node flags (V8 keys its cache by them):
 * the app synthesizes the default stack into a temporary directory; the CLI prints its help and
 * loads the SDK parts. Each run leaves the code cache of what it compiled (load-bundle.cjs).
 */
function warmCodeCaches(names) {
  const outdir = mkdtempSync(path.join(os.tmpdir(), 'trainium-spot-warm-'));
  // The user's own configuration is not read: the warm run synthesizes the defaults.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(TRAINIUM_SPOT_|CDKTF_|AWS_)/.test(name)));
  const runs = {
    main: `require('./scripts/load-bundle.cjs').loadBundle(require('node:path').resolve('dist/main.js'))`,
    cli: `const { loadBundle } = require('./scripts/load-bundle.cjs'); const path = require('node:path');
      loadBundle(path.resolve('dist/aws-sdk.js'));
      loadBundle(path.resolve('dist/cli.js')).main(['--help']);`,
  };
  try {
    for (const name of names) {
      const run = spawnSync(process.execPath, ['-e', runs[name]], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...env, CHECKPOINT_DISABLE: '1', CDKTF_OUTDIR: outdir, CDKTF_CONTEXT_JSON: '{"trainiumSpot":{}}' },
      });
      if (run.status !== 0) throw new Error(`warming dist/${name}.js failed (exit ${run.status}):\n${run.stderr}`);
    }
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await bundle(process.argv[2] ? [process.argv[2]] : undefined, { warm: true });
}
