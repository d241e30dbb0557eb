/**
 * The batch script `cluster submit` writes, and the program that submits it on the head: their exact text,
 * `bash -n`, and both run for real with Slurm's and the head's commands stubbed on PATH.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { jobNameOf, processesPerNode, pythonScript, renderSbatch } from '../../src/cli/sbatch';

const SUBMIT_JOB = path.resolve(__dirname, '..', '..', 'src', 'cli', 'remote', 'submit-job.sh');

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbatch-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** An executable stub named `name` in `bin`. */
function stub(bin: string, name: string, body: string): void {
  fs.mkdirSync(bin, { recursive: true });
  fs.writeFileSync(path.join(bin, name), `#!/usr/bin/env bash\n${body}\n`, { mode: 0o755 });
}

/** The lines common to every job script, between the #SBATCH header and the launch line. */
const BODY = [
  '# Written by trainium-spot cluster submit. Whole nodes, one task each; a lost node requeues the job.',
  'set -euo pipefail',
  'export FI_PROVIDER=efa',
  'export FI_EFA_USE_DEVICE_RDMA=1',
  'export FI_EFA_FORK_SAFE=1',
  'export NEURON_COMPILE_CACHE_URL=/shared/neuron-cache',
  'first_node=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | sed -n 1p)',
  'first_addr=$(tr \',\' \'\\n\' <<< "${SLURM_NODE_ALIASES:-}" | sed -n "s/^$first_node:\\[\\{0,1\\}\\([^]:]*\\)\\]\\{0,1\\}:.*/\\1/p" | sed -n 1p)',
  'if [[ -z $first_addr ]]; then first_addr=$(scontrol show node "$first_node" | sed -n \'s/.*NodeAddr=\\([^ ]*\\).*/\\1/p\' | sed -n 1p); fi',
  'first_addr=${first_addr:-$first_node}',
  'export MASTER_ADDR=$first_addr MASTER_PORT=41000',
  'export NEURON_RT_ROOT_COMM_ID=$first_addr:46820',
];

/** A command with every character a shell could trip on: quotes, `$`, spaces, a backslash, a glob. */
const AWKWARD = ['train.py', '--name', "it's $HOME", 'a  b', '"quoted"', 'back\\slash', '*.txt', ''];

describe('renderSbatch', () => {
  test('GIVEN a Python script WHEN rendered THEN torchrun runs it on every node with the node rank evaluated on each node', () => {
    const script = renderSbatch({ name: 'train', nodes: 2, time: '2:00:00', command: ['train.py', '--epochs', '3'], processesPerNode: 32 });

    expect(script.split('\n')).toEqual([
      '#!/bin/bash',
      '#SBATCH --job-name=train',
      '#SBATCH --nodes=2',
      '#SBATCH --ntasks-per-node=1',
      '#SBATCH --exclusive',
      '#SBATCH --requeue',
      '#SBATCH --time=2:00:00',
      ...BODY,
      'srun --kill-on-bad-exit=1 bash -c \'exec torchrun --nnodes "$SLURM_NNODES" --node_rank "$SLURM_NODEID" --nproc_per_node 32 ' +
        '--master_addr "$MASTER_ADDR" --master_port "$MASTER_PORT" "$@"\' torchrun train.py --epochs 3',
      '',
    ]);
  });

  test('GIVEN a plain command WHEN rendered THEN srun runs it, quoted word by word, and no --time line is written without one', () => {
    const script = renderSbatch({ name: 'neuron-ls', nodes: 1, command: ['neuron-ls', '--json-output', 'a b'], processesPerNode: 32 });

    expect(script.split('\n')).toEqual([
      '#!/bin/bash',
      '#SBATCH --job-name=neuron-ls',
      '#SBATCH --nodes=1',
      '#SBATCH --ntasks-per-node=1',
      '#SBATCH --exclusive',
      '#SBATCH --requeue',
      ...BODY,
      "srun --kill-on-bad-exit=1 neuron-ls --json-output 'a b'",
      '',
    ]);
  });

  test.each([
    ['a Python script', ['python3', ...AWKWARD]],
    ['a plain command', ['echo', ...AWKWARD.slice(1)]],
  ])('GIVEN %s with quotes, $, spaces WHEN the script is checked with bash -n THEN it parses', (_case, command) => {
    const file = path.join(dir, 'job.sbatch');
    fs.writeFileSync(file, renderSbatch({ name: 'job', nodes: 2, command, processesPerNode: 32 }));

    const check = spawnSync('bash', ['-n', file], { encoding: 'utf8' });

    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
  });

  /** Runs the script as the batch step on node `nodeId` of a 2-node job, Slurm's commands stubbed; what torchrun or the command saw. */
  function runAsJob(command: string[], env: Record<string, string>): { argv: string[]; env: Record<string, string>; srun: string } {
    const bin = path.join(dir, 'bin');
    const out = path.join(dir, 'out');
    stub(bin, 'scontrol', [
      'case "$1 $2" in',
      '  "show hostnames") if [[ $3 == "trn-[1-2]" ]]; then printf "trn-1\\ntrn-2\\n"; elif [[ $3 == "trn-[1-200000]" ]]; then seq -f "trn-%g" 1 200000; fi ;;',
      '  "show node") echo "NodeName=$3 Arch=x86_64"; echo "   NodeAddr=10.0.9.9 NodeHostName=ip-10-0-9-9" ;;',
      'esac',
    ].join('\n'));
    // srun runs the step here, as on the node whose SLURM_NODEID the test sets; it records its own options.
    stub(bin, 'srun', `opts=(); while [[ $1 == --* ]]; do opts+=("$1"); shift; done; printf '%s\\n' "\${opts[@]}" > "${out}.srun"; exec "$@"`);
    const record = `printf '%s\\n' "$@" > "${out}.argv"; env > "${out}.env"`;
    stub(bin, 'torchrun', record);
    stub(bin, 'echo', record);
    const file = path.join(dir, 'job.sbatch');
    fs.writeFileSync(file, renderSbatch({ name: 'job', nodes: 2, command, processesPerNode: 32 }), { mode: 0o755 });
    const ran = spawnSync('bash', [file], {
      encoding: 'utf8',
      env: { PATH: `${bin}:/usr/bin:/bin`, SLURM_JOB_NODELIST: 'trn-[1-2]', SLURM_NNODES: '2', SLURM_NODEID: '1', HOME: '/home/ubuntu', ...env },
    });
    expect(ran.stderr).toBe('');
    expect(ran.status).toBe(0);
    const lines = fs.readFileSync(`${out}.argv`, 'utf8').split('\n');
    const vars = Object.fromEntries(fs.readFileSync(`${out}.env`, 'utf8').split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    return { argv: lines.slice(0, -1), env: vars, srun: fs.readFileSync(`${out}.srun`, 'utf8') };
  }

  test('GIVEN a job of very many nodes WHEN the script takes the first of them THEN it reads the whole list: no SIGPIPE ends it under pipefail', () => {
    // `scontrol show hostnames … | head -n 1` lets head exit while scontrol still writes: under `set -o pipefail`
    // scontrol's SIGPIPE (141) would fail the assignment, and `set -e` the job.
    const { argv } = runAsJob(['train.py'], {
      SLURM_JOB_NODELIST: 'trn-[1-200000]', SLURM_NODE_ALIASES: 'trn-1:[10.0.1.5]:ip-10-0-1-5',
    });

    expect(argv.slice(6, 8)).toEqual(['--master_addr', '10.0.1.5']);
  });

  test('GIVEN a Python script with awkward arguments WHEN the script runs as node 1 THEN torchrun gets every word unchanged, the rank of its node and the first node\'s address', () => {
    const { argv, env, srun } = runAsJob(['python3', ...AWKWARD], { SLURM_NODE_ALIASES: 'trn-1:[10.0.1.5]:ip-10-0-1-5,trn-2:[10.0.1.6]:ip-10-0-1-6' });

    expect(argv).toEqual(['--nnodes', '2', '--node_rank', '1', '--nproc_per_node', '32', '--master_addr', '10.0.1.5', '--master_port', '41000', ...AWKWARD]);
    expect(env).toMatchObject({
      FI_PROVIDER: 'efa', FI_EFA_USE_DEVICE_RDMA: '1', FI_EFA_FORK_SAFE: '1', NEURON_COMPILE_CACHE_URL: '/shared/neuron-cache',
      NEURON_RT_ROOT_COMM_ID: '10.0.1.5:46820', MASTER_ADDR: '10.0.1.5', MASTER_PORT: '41000',
    });
    expect(srun).toBe('--kill-on-bad-exit=1\n');
  });

  test('GIVEN no SLURM_NODE_ALIASES WHEN a plain command runs THEN the first node\'s address is its NodeAddr, and the command\'s words arrive unchanged', () => {
    const { argv, env } = runAsJob(['echo', ...AWKWARD.slice(1)], {});

    expect(argv).toEqual(AWKWARD.slice(1));
    expect(env.NEURON_RT_ROOT_COMM_ID).toBe('10.0.9.9:46820');
  });
});

describe('the command and the node', () => {
  test.each([
    [['train.py', '--x'], ['train.py', '--x']],
    [['python', 'src/train.py'], ['src/train.py']],
    [['/usr/bin/env', 'python3', 'train.py', '--x'], ['train.py', '--x']],
    [['/opt/venv/bin/python3', 'train.py'], ['train.py']],
    [['python3', '-u', 'train.py'], null],
    [['bash', 'run.sh'], null],
  ])('pythonScript(%j) is %j', (command, expected) => {
    expect(pythonScript(command)).toEqual(expected);
  });

  test.each([
    [['src/train.py', 'x'], 'train'],
    [['python3', 'my model.py'], 'my_model'],
    [['/usr/bin/neuron-ls'], 'neuron-ls'],
  ])('jobNameOf(%j) is %s', (command, expected) => {
    expect(jobNameOf(command)).toBe(expected);
  });

  test.each([['trn1.32xlarge', 32], ['trn1n.32xlarge', 32], ['trn2.48xlarge', 64]])(
    'torchrun starts one process per NeuronCore the runtime shows: %s has %i', (type, expected) => {
      expect(processesPerNode(type)).toBe(expected);
    });
});

// ---------------------------------------------------------------------------------------------
// submit-job.sh, the program that submits on the head
// ---------------------------------------------------------------------------------------------

describe('submit-job.sh', () => {
  /** Runs the program as SSM would, with the head's commands stubbed: root-only ones do what matters here. */
  function submit(args: string[], options: { mounted?: boolean } = {}) {
    const bin = path.join(dir, 'bin');
    const shared = path.join(dir, 'shared');
    const home = path.join(dir, 'home', 'ubuntu');
    fs.mkdirSync(shared);
    fs.mkdirSync(home, { recursive: true });
    stub(bin, 'getent', `[[ $1 == passwd && $2 == ubuntu ]] && echo "ubuntu:x:1000:1000::${home}:/bin/bash"`);
    stub(bin, 'mountpoint', `[[ $2 == "${shared}" ]] && exit ${options.mounted === false ? 1 : 0}; exit 1`);
    // install -d [-o U] [-g G] [-m M] DIR: the directory, with its mode (owners need root).
    stub(bin, 'install', 'mode=; while [[ $1 == -* ]]; do case $1 in -m) mode=$2; shift ;; -o|-g) shift ;; esac; shift; done; mkdir -p "$1"; [[ -z $mode ]] || chmod "$mode" "$1"');
    stub(bin, 'chown', 'echo "chown $*" >> "$(dirname "$2")/../chown.log"');
    stub(bin, 'runuser', `[[ $1 == -u && $2 == ubuntu && $3 == -- ]] || exit 9; shift 3; echo "cwd $PWD" > "${dir}/runuser.log"; exec "$@"`);
    stub(bin, 'sbatch', `printf '%s\\n' "$@" > "${dir}/sbatch.args"; cp "\${@: -1}" "${dir}/submitted"; echo "4242"`);
    return spawnSync('bash', [SUBMIT_JOB, ...args], { encoding: 'utf8', env: { PATH: `${bin}:/usr/bin:/bin`, SHARED: shared } });
  }

  test('GIVEN /shared mounted WHEN a job is submitted THEN the script is kept under /shared/ubuntu/jobs, sbatch runs there as ubuntu, and only the job id is on stdout', () => {
    const script = renderSbatch({ name: 'train', nodes: 2, command: ['train.py', "it's"], processesPerNode: 32 });

    const ran = submit(['ubuntu', 'train', Buffer.from(script).toString('base64')]);

    expect(ran.status).toBe(0);
    expect(ran.stdout).toBe('4242\n');
    const work = path.join(dir, 'shared', 'ubuntu');
    const [, kept] = /^job script: (.+)$/m.exec(ran.stderr)!;
    expect(kept).toMatch(new RegExp(`^${work}/jobs/train-\\d{8}T\\d{6}Z-\\w{4}\\.sbatch$`));
    expect(fs.readFileSync(kept, 'utf8')).toBe(script);
    expect(fs.readFileSync(path.join(dir, 'submitted'), 'utf8')).toBe(script);
    expect(fs.readFileSync(path.join(dir, 'sbatch.args'), 'utf8').split('\n')).toEqual(['--parsable', `--chdir=${work}`, `--output=${work}/jobs/%x-%j.out`, kept, '']);
    expect(fs.readFileSync(path.join(dir, 'runuser.log'), 'utf8')).toBe(`cwd ${work}\n`);
    expect(fs.statSync(path.join(dir, 'shared', 'neuron-cache')).mode & 0o7777).toBe(0o1777);
  });

  test('GIVEN /shared not mounted WHEN a job is submitted THEN it runs from the home directory and warns that the nodes do not share it', () => {
    const ran = submit(['ubuntu', 'job', Buffer.from('#!/bin/bash\n').toString('base64')], { mounted: false });

    expect(ran.status).toBe(0);
    expect(ran.stdout).toBe('4242\n');
    expect(ran.stderr).toContain(`warning: ${path.join(dir, 'shared')} is not mounted on the head; the job runs from ${path.join(dir, 'home', 'ubuntu')}, which the nodes do not share`);
  });

  test('fails when the job name is not one plain word', () => {
    const ran = submit(['ubuntu', 'a;b', 'IyE=']);

    expect(ran.status).toBe(2);
    expect(ran.stderr).toBe('job name "a;b" is not one word of letters, digits, _ . -\n');
    expect(fs.existsSync(path.join(dir, 'sbatch.args'))).toBe(false);
  });
});
