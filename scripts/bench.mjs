// `npm run bench`: how fast the project is on this machine, each figure beside its reference from the
// same run, as one table. Exits non-zero only when a target is missed.
//
//   npm run bench                   everything (about 4.5 minutes on the 2-core development machine)
//   npm run bench -- --no-tests     synth figures only
//   npm run bench -- --parts        also each part of `npm test` alone, one after another: its wall,
//                                   CPU and peak memory, and their sums beside the side-by-side run
//   BENCH_RUNS=9 npm run bench      more paired rounds (default 5)
//
// Synth figures run in rounds: each round runs the reference and every candidate back to back, so
// load from elsewhere hits both sides of a ratio alike; a ratio is the median of the rounds' ratios.
//   bare node        node -e ''                          the floor of any node program
//   naive app        npx cdktf synth --app "npx ts-node main.ts"
//                                                        synth as a `cdktf init --template=typescript`
//                                                        project runs it: the CLI, then ts-node
//   ts-node alone    npx ts-node main.ts                 that app without the CLI (shown, no target)
//   app alone        node scripts/app.mjs                what cdktf.json runs (current bundle, no rebuild)
//   npm run synth    the app run directly through npm
//   npx cdktf synth  the cdktf CLI with this project's app, end to end
// Memory is the peak over the whole process tree, sampled from /proc: the sum of each process's
// proportional set size (PSS: a page shared by n processes counts 1/n to each), with the sum of
// resident set sizes (which counts shared pages once per process) beside it.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ROUNDS = Number(process.env.BENCH_RUNS ?? 5);
const withTests = !process.argv.includes('--no-tests');
const withParts = withTests && process.argv.includes('--parts');
/** The parts of `npm test` (scripts/test-all.sh), each run alone with TEST_PARTS for --parts. */
const PARTS = ['typecheck', 'shellcheck', 'engine', 'jest', 'bats', 'cluster', 'slurm'];
const loadBefore = os.loadavg()[0];
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'trainium-spot-bench-'));
const cliConfig = path.join(scratch, 'empty.tfrc');
fs.writeFileSync(cliConfig, '');

const ENV = {
  ...process.env,
  CHECKPOINT_DISABLE: '1',
  TF_CLI_CONFIG_FILE: cliConfig,
  CDKTF_OUTDIR: path.join(scratch, 'cdktf.out'),
  CDKTF_CONTEXT_JSON: JSON.stringify({ trainiumSpot: {} }),
};

// ---------------------------------------------------------------------------------- measuring
const PAGE_KIB = 4;

/** Every process under `root` (itself included), from the parent links in /proc/<pid>/stat. */
function processTree(root) {
  const children = new Map();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // the process ended while we looked
    }
  }
  const tree = [];
  for (const queue = [root]; queue.length > 0;) {
    const pid = queue.shift();
    tree.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/** Memory of the tree now, in KiB: { pss, rss }. */
function treeMemoryKiB(root) {
  let pss = 0;
  let rss = 0;
  for (const pid of processTree(root)) {
    try {
      const rollup = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
      pss += Number(/^Pss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
      rss += Number(fs.readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * PAGE_KIB;
    } catch {
      // the process ended while we looked
    }
  }
  return { pss, rss };
}

/**
 * Runs a command to its end: wall seconds, CPU seconds of the whole tree (bash's `time` counts every
 * waited-for child), peak memory of the tree, exit code and output.
 */
function measure(command, args, { sampleMs = 25 } = {}) {
  const timesFile = path.join(scratch, 'times');
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn('bash', ['-c', 'TIMEFORMAT="%U %S"; { time "$@" 2>&3; } 3>&2 2>"$BENCH_TIMES_FILE"', 'bash', command, ...args], {
      cwd: ROOT, env: { ...ENV, BENCH_TIMES_FILE: timesFile }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    const peak = { pss: 0, rss: 0 };
    const sample = () => {
      const now = treeMemoryKiB(child.pid);
      peak.pss = Math.max(peak.pss, now.pss);
      peak.rss = Math.max(peak.rss, now.rss);
    };
    const timer = setInterval(sample, sampleMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(timer);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const [user, sys] = fs.readFileSync(timesFile, 'utf8').trim().split(/\s+/).map(Number);
      resolve({ code, output, seconds, cpuSeconds: user + sys, pssMiB: peak.pss / 1024, rssMiB: peak.rss / 1024 });
    });
  });
}

async function mustRun(label, command, args, options) {
  const run = await measure(command, args, options);
  if (run.code !== 0) {
    console.error(`bench: ${label} failed (exit ${run.code}):\n${run.output}`);
    process.exit(2);
  }
  return run;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

// ---------------------------------------------------------------------------------- the runs
const progress = (text) => process.stderr.write(`${text}\n`);
const build = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, env: ENV, encoding: 'utf8' });
if (build.status !== 0) {
  console.error(`bench: the build failed:\n${build.stdout}${build.stderr}`);
  process.exit(2);
}

const SYNTH_COMMANDS = {
  bare: ['bare node', process.execPath, ['-e', '']],
  naive: ['naive app', 'npx', ['cdktf', 'synth', '--app', 'npx ts-node main.ts', '--output', path.join(scratch, 'naive.out')]],
  tsNode: ['ts-node alone', 'npx', ['ts-node', 'main.ts']],
  app: ['app alone', process.execPath, ['scripts/app.mjs']],
  npmSynth: ['npm run synth', 'npm', ['run', '--silent', 'synth']],
  cdktfSynth: ['npx cdktf synth', 'npx', ['cdktf', 'synth', '--output', path.join(scratch, 'synth.out')]],
};
const rounds = [];
for (let round = 1; round <= ROUNDS; round++) {
  progress(`synth round ${round} of ${ROUNDS}`);
  const results = {};
  for (const [key, [label, command, args]] of Object.entries(SYNTH_COMMANDS)) results[key] = await mustRun(label, command, args);
  rounds.push(results);
}

let tests;
if (withTests) {
  progress('npm test');
  tests = await measure('npm', ['test', '--silent'], { sampleMs: 100 });
}
// What two cores give here, for --parts: two CPU-bound loops side by side take about as long as one, so
// the cores are real; two loops of process starts side by side, where page-table work dominates, show
// how much of that work overlaps.
const PROBES = {
  'CPU-bound loop': [process.execPath, ['-e', 'let x = 0; for (let i = 0; i < 2e9; i++) x += i % 7;']],
  '600 process starts': ['bash', ['-c', 'for ((i = 0; i < 600; i++)); do /bin/true; done']],
};
async function sideBySide(command, args) {
  const alone = await mustRun('probe', command, args);
  const pair = await mustRun('probe pair', 'bash', ['-c', '"$@" & "$@"; wait', 'bash', command, ...args]);
  return { alone: alone.seconds, pair: pair.seconds };
}
const probes = [];
const partsAlone = [];
if (withParts) {
  progress('probes: one alone, then two side by side');
  for (const [label, [command, args]] of Object.entries(PROBES)) probes.push({ label, ...(await sideBySide(command, args)) });
  for (const part of PARTS) {
    progress(`npm test, ${part} alone`);
    partsAlone.push({ part, run: await measure('env', [`TEST_PARTS=${part}`, 'npm', 'test', '--silent'], { sampleMs: 100 }) });
  }
}

// ---------------------------------------------------------------------------------- the table
const rows = [];
const checks = [];
const seconds = (s) => `${s.toFixed(s < 10 ? 2 : 1)} s`;
const mib = (m) => `${m.toFixed(0)} MiB`;
function row(figure, measured, reference, target, met) {
  rows.push([figure, measured, reference, target, met === undefined ? '' : met ? 'met' : 'MISSED']);
  if (met !== undefined) checks.push(met);
}

const of = (key) => rounds.map((r) => r[key]);
const medianSeconds = (key) => median(of(key).map((r) => r.seconds));
const ratio = (key, reference) => median(rounds.map((r) => r[key].seconds / r[reference].seconds));
const peak = (key) => ({ pss: Math.max(...of(key).map((r) => r.pssMiB)), rss: Math.max(...of(key).map((r) => r.rssMiB)) });
const memory = (key) => `${mib(peak(key).pss)} (RSS sum ${mib(peak(key).rss)})`;

if (tests) {
  const summary = /^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$/m.exec(tests.output);
  row('`npm test` result', summary ? summary[0] : `no summary (exit ${tests.code})`, '', 'exit 0, 0 failed',
    tests.code === 0 && Boolean(summary) && summary[2] === '0');
  row('`npm test` wall', seconds(tests.seconds), `${seconds(tests.cpuSeconds)} CPU`, '≤ 60 s', tests.seconds <= 60);
  row('`npm test` peak memory (PSS)', mib(tests.pssMiB), `RSS sum ${mib(tests.rssMiB)}`, '≤ 700 MiB', tests.pssMiB <= 700);
  for (const [, part, wall, cpu] of tests.output.matchAll(/^-- (\w+): ([\d.]+) s wall, ([\d.]+) s CPU$/gm)) {
    row(`  part: ${part}`, `${wall} s`, `${cpu} s CPU`, '', undefined);
  }
}
if (partsAlone.length > 0) {
  for (const { part, run } of partsAlone) {
    const counts = /^(\d+) passed, (\d+) failed/m.exec(run.output);
    row(`  ${part} alone`, `${seconds(run.seconds)}, ${mib(run.pssMiB)}`, `${seconds(run.cpuSeconds)} CPU`,
      counts ? `${counts[1]} passed, ${counts[2]} failed` : `exit ${run.code}`, undefined);
  }
  const sum = (key) => partsAlone.reduce((total, { run }) => total + run[key], 0);
  const cores = os.cpus().length;
  row('  the parts one after another', seconds(sum('seconds')), `${seconds(sum('cpuSeconds'))} CPU`, '', undefined);
  row(`  their CPU spread over ${cores} cores`, seconds(sum('cpuSeconds') / cores), '', '', undefined);
  if (tests) row('  side by side (`npm test` above)', seconds(tests.seconds), `${seconds(tests.cpuSeconds)} CPU`, '', undefined);
  for (const { label, alone, pair } of probes) {
    row(`  ${label}: two side by side`, seconds(pair), `one alone ${seconds(alone)}: ${(2 * alone / pair).toFixed(2)}x the work per second`, '', undefined);
  }
}
row('bare node', seconds(medianSeconds('bare')), '', '', undefined);
row('naive app (`npx cdktf synth --app "npx ts-node main.ts"`)', seconds(medianSeconds('naive')), memory('naive'), '', undefined);
row('  of it, the app alone (`npx ts-node main.ts`)', seconds(medianSeconds('tsNode')), memory('tsNode'), '', undefined);
row('app alone', seconds(medianSeconds('app')), `${ratio('app', 'bare').toFixed(2)}x bare node`, '≤ 3x bare node', ratio('app', 'bare') <= 3);
row('app alone peak memory', memory('app'), '', '< 300 MiB', peak('app').pss < 300);
row('`npm run synth`', seconds(medianSeconds('npmSynth')), `${ratio('npmSynth', 'naive').toFixed(2)}x naive app`, '≤ 0.15x naive app', ratio('npmSynth', 'naive') <= 0.15);
row('`npx cdktf synth`', seconds(medianSeconds('cdktfSynth')), `${ratio('cdktfSynth', 'naive').toFixed(2)}x naive app`, '≤ 0.6x naive app', ratio('cdktfSynth', 'naive') <= 0.6);
row('`npx cdktf synth` peak memory', memory('cdktfSynth'), '', '< 300 MiB', peak('cdktfSynth').pss < 300);

const header = ['figure', 'measured', 'beside it, same run', 'target', ''];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
console.log(`trainium-spot bench, ${new Date().toISOString().slice(0, 10)}: ${os.cpus().length} cores, node ${process.version}, ` +
  `${ROUNDS} paired synth rounds, load average before ${loadBefore.toFixed(2)}`);
console.log([line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n'));
fs.rmSync(scratch, { recursive: true, force: true });
process.exit(checks.every(Boolean) ? 0 : 1);
