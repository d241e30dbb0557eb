/**
 * `cluster submit [--nodes N] [--time T] -- <command...>`: writes a batch script for the command (torchrun on
 * every node for a Python script, else srun), sends it to the head through SSM Run Command, where it is kept
 * under /shared/<login user>/jobs and submitted with sbatch as the login user, and prints Slurm's job id.
 */
import { LOGIN_USER } from '../../catalog';
import { Flags, REGION_FLAG } from '../args';
import { base64, describeFailedRun, findCluster, HEAD_NOTE, remoteProgram, requireCluster, requireHead, runOnHead, runProgramLine } from '../cluster';
import { CommandContext, CommandSpec, emit } from '../command';
import { commandTarget } from '../config';
import { CliError, EXIT_OK, UsageError } from '../errors';
import { PROGRAM } from '../help';
import { ClusterSubmitReport, SCHEMA_VERSION } from '../report';
import { jobNameOf, processesPerNode, pythonScript, renderSbatch } from '../sbatch';

const DEFAULT_TIMEOUT_SECONDS = 60;
const POLL_INTERVAL_MS = 1000;
const SUBMIT_PROGRAM = 'submit-job.sh';

/**
 * Slurm's time formats for --time: "minutes", "minutes:seconds", "hours:minutes:seconds", "days-hours",
 * "days-hours:minutes" and "days-hours:minutes:seconds" (sbatch(1), --time, https://slurm.schedmd.com/sbatch.html,
 * checked 2026-12-07).
 */
const SLURM_TIME = /^(\d+|\d+:\d{1,2}|\d+:\d{1,2}:\d{1,2}|\d+-\d+|\d+-\d+:\d{1,2}|\d+-\d+:\d{1,2}:\d{1,2})$/;

/** `sbatch --parsable` prints "jobid" or "jobid;cluster": the job id is the last line's leading number. */
export function jobIdOf(stdout: string): string | null {
  const last = stdout.trim().split('\n').pop() ?? '';
  return /^(\d+)(;\S*)?$/.exec(last.trim())?.[1] ?? null;
}

async function run(flags: Flags, ctx: CommandContext): Promise<number> {
  const command = flags.trailing;
  if (command.length === 0 || command[0] === '') {
    throw new UsageError('cluster submit', 'give the command after --, e.g. trainium-spot cluster submit --nodes 2 -- train.py --epochs 3');
  }
  const time = flags.string('time');
  if (time !== undefined && !SLURM_TIME.test(time)) {
    throw flags.invalid('time', time, 'a Slurm time: minutes, minutes:seconds, hours:minutes:seconds, days-hours, days-hours:minutes or days-hours:minutes:seconds');
  }
  const timeoutSeconds = flags.wholeNumber('timeout', 1) ?? DEFAULT_TIMEOUT_SECONDS;
  const { config, region } = commandTarget(ctx, flags);
  const cluster = requireCluster(config, 'cluster submit');
  const nodes = flags.wholeNumber('nodes') ?? cluster.nodes;
  if (nodes > cluster.nodes) {
    throw new UsageError('cluster submit', `--nodes ${nodes} is more than cluster.nodes (${cluster.nodes}), the most compute nodes the cluster may have at once`);
  }
  const head = requireHead(await findCluster(ctx, region, config.name), config.name, region);
  if (head.state !== 'running') {
    throw new CliError(`the head ${head.instanceId} of cluster ${config.name} is ${head.state}; start it with: trainium-spot cluster start`);
  }
  const jobName = jobNameOf(command);
  const script = renderSbatch({ name: jobName, nodes, time, command, processesPerNode: processesPerNode(cluster.instanceType) });
  const line = runProgramLine(remoteProgram(SUBMIT_PROGRAM), [LOGIN_USER, jobName, base64(script)]);
  const timeoutMs = timeoutSeconds * 1000;
  const result = await runOnHead(ctx, region, head.instanceId, [line], { comment: `trainium-spot cluster submit: ${jobName}`, timeoutMs, intervalMs: POLL_INTERVAL_MS });
  const jobId = result.status === 'Success' ? jobIdOf(result.stdout) : null;
  if (jobId === null) {
    throw new CliError(result.status === 'Success'
      ? `sbatch on the head ${head.instanceId} printed no job id (${JSON.stringify(result.stdout.trim().slice(0, 200))})`
      : describeFailedRun(result, head.instanceId, region, timeoutMs));
  }
  for (const warning of result.stderr.split('\n').filter((l) => l.startsWith('warning: '))) ctx.io.stderr.write(`${PROGRAM}: ${warning}\n`);
  const report: ClusterSubmitReport = {
    schemaVersion: SCHEMA_VERSION,
    command: 'cluster-submit',
    region,
    name: config.name,
    headInstanceId: head.instanceId,
    jobId,
    jobName,
    nodes,
    launcher: pythonScript(command) ? 'torchrun' : 'srun',
    scriptPath: /^job script: (.+)$/m.exec(result.stderr)?.[1] ?? null,
    script,
    commandId: result.commandId,
  };
  emit(ctx, report, (r) => `Submitted batch job ${r.jobId} (${r.jobName}, ${r.nodes} ${r.nodes === 1 ? 'node' : 'nodes'}, ${r.launcher}) ` +
    `on the head ${r.headInstanceId} of cluster ${r.name}\n` +
    (r.scriptPath ? `Script: ${r.scriptPath}; output beside it in ${r.scriptPath.replace(/\/[^/]*$/, '')}/${r.jobName}-${r.jobId}.out\n` : '') +
    'Follow it with: trainium-spot cluster status\n');
  return EXIT_OK;
}

export const clusterSubmitCommand: CommandSpec = {
  name: 'cluster submit',
  summary: 'Submit a command as a Slurm batch job on N nodes (torchrun for a Python script); print the job id',
  usage: ['cluster submit [--nodes N] [--time TIME] [--region REGION] [--timeout SECONDS] -- <command...>'],
  flags: {
    nodes: { type: 'string', placeholder: 'N', description: 'Nodes for the job, at most cluster.nodes (default: cluster.nodes)' },
    time: { type: 'string', placeholder: 'TIME', description: 'Slurm time limit, e.g. 90 (minutes) or 2:00:00 (default: none)' },
    region: REGION_FLAG,
    timeout: { type: 'string', placeholder: 'SECONDS', description: `How long to wait for sbatch on the head (default: ${DEFAULT_TIMEOUT_SECONDS})` },
  },
  trailing: true,
  examples: [
    'trainium-spot cluster submit --nodes 2 -- train.py --epochs 3',
    'trainium-spot cluster submit --nodes 1 --time 30 -- neuron-ls',
    "trainium-spot cluster submit --output json -- python3 train.py --name 'run 1' | jq -r .jobId",
  ],
  notes:
    'Flags come before --; everything after it is the command, word for word (quote it for your own shell;\n' +
    'the script quotes it again so that spaces, quotes and $ reach the job unchanged). The job runs on whole nodes (--exclusive),\n' +
    'one task per node, and is requeued when a node is lost (--requeue). It gets FI_PROVIDER=efa,\n' +
    'FI_EFA_USE_DEVICE_RDMA=1, FI_EFA_FORK_SAFE=1, NEURON_COMPILE_CACHE_URL=/shared/neuron-cache, and\n' +
    'NEURON_RT_ROOT_COMM_ID, MASTER_ADDR and MASTER_PORT for the job\'s first node. A Python script (train.py,\n' +
    'or python3 train.py) runs as `torchrun --nnodes $SLURM_NNODES --node_rank $SLURM_NODEID --nproc_per_node\n' +
    '<NeuronCores per node>` on every node; anything else runs under srun on every node. Relative paths are\n' +
    'relative to /shared/<login user> on the head and the nodes, where the script is kept (under jobs/, with\n' +
    'its output <name>-<job id>.out).\n\n' +
    HEAD_NOTE +
    'Needs ec2:DescribeInstances, ssm:SendCommand (AWS-RunShellScript, on the head), ssm:GetCommandInvocation.\n\n' +
    'Exit codes: 0 submitted, 2 error (no cluster in the config, no running head, SSM or sbatch failed).',
  run,
};
