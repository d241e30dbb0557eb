/**
 * scripts/load-bundle.cjs, which runs every bundle of dist/ (the app, the CLI, the SDK parts) from
 * V8's code cache: the cache is written by the first start, used by the next, and never used for
 * another build of the bundle, even one of the same length (V8 itself checks only the length).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const LOADER = path.resolve(__dirname, '..', 'scripts', 'load-bundle.cjs');
let dir: string;
let bundle: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trainium-spot-load-bundle-'));
  bundle = path.join(dir, 'bundle.js');
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Starts node on the bundle through the loader; prints what the bundle exports. */
function start(): string {
  const run = spawnSync(process.execPath, ['-e', `console.log(require(${JSON.stringify(LOADER)}).loadBundle(${JSON.stringify(bundle)}).answer)`],
    { encoding: 'utf8' });
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  return run.stdout.trim();
}

test('the first start writes the cache beside the bundle, headed by its size and mtime; the next start keeps it', () => {
  // GIVEN
  fs.writeFileSync(bundle, 'exports.answer = `first`;\n');
  // WHEN
  expect(start()).toBe('first');
  // THEN
  const cache = `${bundle}.v8cache`;
  const { size, mtimeMs } = fs.statSync(bundle);
  expect(fs.readFileSync(cache).subarray(0, 64).toString('latin1').startsWith(`${size}:${mtimeMs}\n`)).toBe(true);
  const written = fs.readFileSync(cache);
  expect(start()).toBe('first');
  expect(fs.readFileSync(cache).equals(written)).toBe(true);
});

test('a rebuilt bundle of the same length runs its own code, not the cached one, and gets a new cache', () => {
  // GIVEN a cache of one build
  fs.writeFileSync(bundle, 'exports.answer = `first`;\n');
  expect(start()).toBe('first');
  const before = fs.readFileSync(`${bundle}.v8cache`);
  // WHEN the bundle is rebuilt with other code of the same length, a moment later
  fs.writeFileSync(bundle, 'exports.answer = `other`;\n');
  fs.utimesSync(bundle, new Date(), new Date(Date.now() + 5_000));
  // THEN
  expect(start()).toBe('other');
  expect(fs.readFileSync(`${bundle}.v8cache`).equals(before)).toBe(false);
});

test('fails when the cache cannot be written: the bundle still runs, and no temporary file is left', () => {
  // GIVEN a directory where the cache file would go, so that writing it fails (for root too)
  fs.writeFileSync(bundle, 'exports.answer = `no cache`;\n');
  fs.mkdirSync(`${bundle}.v8cache`);
  // WHEN / THEN
  expect(start()).toBe('no cache');
  expect(fs.statSync(`${bundle}.v8cache`).isDirectory()).toBe(true);
  expect(fs.readdirSync(dir).sort()).toEqual(['bundle.js', 'bundle.js.v8cache']);
});
