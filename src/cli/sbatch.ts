/**
 * The batch script `cluster submit` writes for Slurm: one task per node on whole nodes, requeued when a node
 * is lost, the EFA and Neuron settings of a multi-node job, and the user's command: a Python script runs under
 * torchrun on every node, anything else under srun. Pure: the text depends on its inputs only.
 */
import { instanceFacts } from '../catalog';
import { shellQuote } from './format';

/**
 * Where the Neuron compiler keeps its persistent cache: on shared storage, a graph compiled by one node serves
 * every node and every later job. The variable is torch-neuronx's: "Users can set the cache directory using
 * --cache_dir in NEURON_CC_FLAGS or by using NEURON_COMPILE_CACHE_URL" (libneuronxla), and the Neuron
 * documentation's "Neuron Persistent Cache",
 * https://awsdocs-neuron.readthedocs-hosted.com/en/latest/general/arch/neuron-features/neuron-caching.html,
 * checked 2026-12-07.
 */
export const NEURON_CACHE_DIR = '/shared/neuron-cache';

/**
 * torchrun's rendezvous port (MASTER_PORT) and the Neuron runtime's root communicator port
 * (NEURON_RT_ROOT_COMM_ID=<address>:<port>), as AWS's multi-node Neuron samples set them (41000 reserved for
 * the master in neuronx-nemo-megatron's scripts, 46820 for NEURON_RT_ROOT_COMM_ID in the torch-neuronx
 * training samples), checked 2026-12-07.
 */
export const MASTER_PORT = 41000;
export const ROOT_COMM_PORT = 46820;

/**
 * The EFA settings Neuron collectives across instances need: libfabric's EFA provider, RDMA on the device,
 * and fork safety (Neuron SDK, "How to prepare trn1.32xlarge for multi-node execution",
 * https://awsdocs-neuron.readthedocs-hosted.com/en/latest/frameworks/torch/torch-neuronx/setup-trn1-multi-node-execution.html,
 * and the samples above, checked 2026-12-07).
 */
export const EFA_ENVIRONMENT: readonly (readonly [string, string])[] = [
  ['FI_PROVIDER', 'efa'],
  ['FI_EFA_USE_DEVICE_RDMA', '1'],
  ['FI_EFA_FORK_SAFE', '1'],
];

/**
 * The default Logical NeuronCore configuration of Trainium2: two physical NeuronCores make one logical
 * core, "64 ranks per instance" on a trn2.48xlarge (Neuron documentation, "Logical NeuronCore configuration"
 * and "Best practices for training on AWS Neuron",
 * https://awsdocs-neuron.readthedocs-hosted.com/en/latest/training/best-practices.html, checked 2026-12-07).
 * Trainium (trn1) supports LNC 1 only.
 */
const TRAINIUM2_LNC = 2;

/**
 * torchrun processes per node: one per NeuronCore the runtime shows, i.e. the catalog's physical NeuronCores
 * (its `accelerators`, e.g. "16 Trainium chips (32 NeuronCores-v2)") divided by the default LNC.
 */
export function processesPerNode(instanceType: string): number {
  const accelerators = instanceFacts(instanceType)?.accelerators ?? '';
  const cores = /\((\d+) NeuronCores/.exec(accelerators)?.[1];
  if (cores === undefined) throw new Error(`the catalog names no NeuronCores for ${instanceType}`);
  return Number(cores) / (/Trainium2/.test(accelerators) ? TRAINIUM2_LNC : 1);
}

export interface BatchJob {
  readonly name: string;
  readonly nodes: number;
  /** Slurm's --time, e.g. `90` (minutes) or `2:00:00`. @default none: the partition's limit */
  readonly time?: string;
  /** The user's command, one word each, as typed after `--`. */
  readonly command: readonly string[];
  /** torchrun processes per node, for a Python script. */
  readonly processesPerNode: number;
}

const PYTHONS = ['python', 'python3'];

/**
 * The script and its arguments when the command is a Python script (`train.py …`, `python3 train.py …`, with or
 * without a path or `env` before the interpreter: `/usr/bin/env python3 train.py …`), else `null`.
 */
export function pythonScript(command: readonly string[]): readonly string[] | null {
  const [first, second] = command;
  const program = first?.split('/').pop() ?? '';
  if (first?.endsWith('.py')) return command;
  if (program === 'env') return pythonScript(command.slice(1));
  if (PYTHONS.includes(program) && second?.endsWith('.py')) return command.slice(1);
  return null;
}

/** A job name from the command: the script's or program's file name, in Slurm-safe characters. */
export function jobNameOf(command: readonly string[]): string {
  const word = pythonScript(command)?.[0] ?? command[0] ?? 'job';
  const base = word.split('/').pop()!.replace(/\.py$/, '').replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64);
  return base || 'job';
}

/**
 * The first node of the job leads torchrun's rendezvous and the Neuron runtime's root communicator. Node names
 * are in no DNS: the address comes from SLURM_NODE_ALIASES ("name:[address]:hostname,…", set for cloud nodes),
 * else from the node's NodeAddr, else the name itself. `sed -n 1p`, not `head -n 1`: sed reads its input to the end,
 * while head may exit before scontrol has written a long node list, and under `set -o pipefail` scontrol's SIGPIPE
 * (141) would end the job.
 */
const FIRST_NODE_LINES = [
  'first_node=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | sed -n 1p)',
  'first_addr=$(tr \',\' \'\\n\' <<< "${SLURM_NODE_ALIASES:-}" | sed -n "s/^$first_node:\\[\\{0,1\\}\\([^]:]*\\)\\]\\{0,1\\}:.*/\\1/p" | sed -n 1p)',
  'if [[ -z $first_addr ]]; then first_addr=$(scontrol show node "$first_node" | sed -n \'s/.*NodeAddr=\\([^ ]*\\).*/\\1/p\' | sed -n 1p); fi',
  'first_addr=${first_addr:-$first_node}',
];

/** The batch script, newline-terminated. */
export function renderSbatch(job: BatchJob): string {
  const script = pythonScript(job.command);
  const launch = script
    ? 'srun --kill-on-bad-exit=1 bash -c \'exec torchrun --nnodes "$SLURM_NNODES" --node_rank "$SLURM_NODEID" ' +
      `--nproc_per_node ${job.processesPerNode} --master_addr "$MASTER_ADDR" --master_port "$MASTER_PORT" "$@"' torchrun ` +
      script.map(shellQuote).join(' ')
    : `srun --kill-on-bad-exit=1 ${job.command.map(shellQuote).join(' ')}`;
  return [
    '#!/bin/bash',
    `#SBATCH --job-name=${job.name}`,
    `#SBATCH --nodes=${job.nodes}`,
    '#SBATCH --ntasks-per-node=1',
    '#SBATCH --exclusive',
    '#SBATCH --requeue',
    ...(job.time === undefined ? [] : [`#SBATCH --time=${job.time}`]),
    '# Written by trainium-spot cluster submit. Whole nodes, one task each; a lost node requeues the job.',
    'set -euo pipefail',
    ...EFA_ENVIRONMENT.map(([name, value]) => `export ${name}=${value}`),
    `export NEURON_COMPILE_CACHE_URL=${NEURON_CACHE_DIR}`,
    ...FIRST_NODE_LINES,
    `export MASTER_ADDR=$first_addr MASTER_PORT=${MASTER_PORT}`,
    `export NEURON_RT_ROOT_COMM_ID=$first_addr:${ROOT_COMM_PORT}`,
    launch,
    '',
  ].join('\n');
}
