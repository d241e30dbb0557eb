// `npm run bench`: how fast the project is on this machine, median of N runs (default 5).
//   node -e ''                 a bare node start, the floor
//   app alone                  node scripts/app.mjs (what cdktf.json runs: the bundled app, no rebuild)
//   app via ts-node            what a `cdktf init --template=typescript` app runs (npx ts-node main.ts)
//   cdktf synth                the whole CLI, end to end
//   npm test                   every test (skip with --no-tests)
// Targets: cdktf synth <= 1/2 of the ts-node app; app alone <= 4x bare node; peak RSS < 300 MiB.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundle } from './build.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const withTests = !process.argv.includes('--no-tests');
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'trainium-spot-bench-'));
const rssFile = path.join(out, 'rss');
const cliConfig = path.join(out, 'empty.tfrc');
fs.writeFileSync(cliConfig, '');

const baseEnv = {
  ...process.env,
  CHECKPOINT_DISABLE: '1',
  TF_CLI_CONFIG_FILE: cliConfig,
  CDKTF_OUTDIR: path.join(out, 'cdktf.out'),
  CDKTF_CONTEXT_JSON: JSON.stringify({ trainiumSpot: {} }),
};

function timeOnce(command, args) {
  fs.writeFileSync(rssFile, '');
  const start = process.hrtime.bigint();
  const run = spawnSync(command, args, {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...baseEnv, TRAINIUM_SPOT_RSS_FILE: rssFile, NODE_OPTIONS: `--require ${path.join(ROOT, 'scripts/rss-probe.cjs')}` },
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (run.status !== 0) throw new Error(`${command} ${args.join(' ')} failed:\n${run.stdout}\n${run.stderr}`);
  const peaks = fs.readFileSync(rssFile, 'utf8').split('\n').filter(Boolean).map(Number);
  return { seconds, peakMiB: Math.max(0, ...peaks) / 1024 };
}

function measure(label, command, args, runs = RUNS) {
  const samples = Array.from({ length: runs }, () => timeOnce(command, args));
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const result = { label, seconds: median(samples.map((s) => s.seconds)), peakMiB: Math.max(...samples.map((s) => s.peakMiB)) };
  console.log(`${label.padEnd(22)} ${result.seconds.toFixed(3).padStart(8)} s   peak ${result.peakMiB.toFixed(0).padStart(5)} MiB   (median of ${runs})`);
  return result;
}

await bundle();

console.log(`trainium-spot benchmark on ${os.cpus().length} cores, node ${process.version}`);
const bare = measure('node -e ""', process.execPath, ['-e', '']);
const app = measure('app alone', process.execPath, ['scripts/app.mjs']);
const tsNode = measure('app via ts-node', path.join(ROOT, 'node_modules/.bin/ts-node'), ['main.ts']);
const synth = measure('cdktf synth', path.join(ROOT, 'node_modules/.bin/cdktf'), ['synth', '--output', path.join(out, 'synth.out')]);
if (withTests) measure('npm test', 'npm', ['test', '--silent']);

const checks = [
  [`cdktf synth <= 1/2 of the ts-node app (${(tsNode.seconds / 2).toFixed(2)} s)`, synth.seconds <= tsNode.seconds / 2],
  [`app alone <= 4x bare node (${(bare.seconds * 4).toFixed(3)} s; is ${(app.seconds / bare.seconds).toFixed(1)}x)`, app.seconds <= bare.seconds * 4],
  [`peak memory of synth < 300 MiB (${synth.peakMiB.toFixed(0)} MiB)`, synth.peakMiB < 300],
  [`peak memory of the app < 300 MiB (${app.peakMiB.toFixed(0)} MiB)`, app.peakMiB < 300],
];
for (const [name, ok] of checks) console.log(`${ok ? 'met   ' : 'MISSED'} ${name}`);
fs.rmSync(out, { recursive: true, force: true });
process.exit(checks.every(([, ok]) => ok) ? 0 : 1);
