// Bundles the app and the CLI, each with every dependency it needs, into dist/main.js and dist/cli.js,
// and the parts of the AWS SDK the CLI loads on first use into dist/aws-sdk.js. One file to read and
// compile starts far faster than hundreds of modules resolved one by one from node_modules. Provider
// classes stay imported by deep path, so only the resources the stack uses are in the bundle.
// Type-checking lives in the tests.
import { build } from 'esbuild';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
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

/** Replaces `require(name)` of LOAD_ON_FIRST_USE with a stand-in that requires the package when first touched. */
const loadOnFirstUse = {
  name: 'load-on-first-use',
  setup(build) {
    // The stand-in's own require() (namespace on-first-use) resolves as usual, to the real package.
    build.onResolve({ filter: new RegExp(`^(${LOAD_ON_FIRST_USE.join('|')})$`) }, (args) => (args.namespace === 'on-first-use'
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

/** Points the CLI's require() of an SDK part at dist/aws-sdk.js, loaded when first called. */
const sdkFromItsBundle = {
  name: 'sdk-from-its-bundle',
  setup(build) {
    build.onResolve({ filter: new RegExp(`^\\./sdk/(${SDK_PARTS.join('|')})$`) }, (args) => ({ path: args.path.slice('./sdk/'.length), namespace: 'sdk-part' }));
    build.onLoad({ filter: /.*/, namespace: 'sdk-part' }, (args) => ({
      contents: `module.exports = require(require('node:path').join(__dirname, 'aws-sdk.js'))[${JSON.stringify(args.path)}];`,
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
 * Each output is written to a temporary name and renamed into place: a build running beside another
 * (two test runs, or a rebuild by scripts/app.mjs) never lets a process start from half a bundle.
 */
async function buildInPlace(options) {
  const { outputFiles } = await build({ ...options, write: false });
  for (const { path: file, contents } of outputFiles) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(`${file}.${process.pid}`, contents);
    renameSync(`${file}.${process.pid}`, file);
  }
}

/** Bundles the named entry points (default: all) into dist/<name>.js; the CLI brings dist/aws-sdk.js. */
export async function bundle(names = Object.keys(ENTRY_POINTS)) {
  await buildInPlace({
    ...COMMON,
    entryPoints: Object.fromEntries(names.map((name) => [name, ENTRY_POINTS[name]])),
    plugins: [loadOnFirstUse, sdkFromItsBundle],
  });
  if (names.includes('cli')) {
    await buildInPlace({
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
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await bundle(process.argv[2] ? [process.argv[2]] : undefined);
}
