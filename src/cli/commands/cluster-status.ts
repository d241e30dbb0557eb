/**
 * `cluster status`: the head, every compute node with its Slurm name, the Slurm queue (squeue on the head,
 * through SSM Run Command) and what the cluster costs per hour now. Only finding the instances must succeed:
 * the queue and the spot prices only add to the report, and when they cannot be read the report says "-" and
 * one warning line says why.
 */
import { instanceFacts } from '../../catalog';
import { Flags, REGION_FLAG } from '../args';
import { AwsCallError, EXIT_NOT_DONE, EXIT_OK } from '../errors';
import { SecondaryCalls } from '../aws';
import { describeFailedRun, findCluster, HEAD_NOTE, requireCluster, runOnHead } from '../cluster';
import { CommandContext, CommandSpec, emit } from '../command';
import { commandTarget } from '../config';
import { isoOrDash, plural, renderTable, roundTo, usd } from '../format';
import { PROGRAM } from '../help';
import { BoxState, ClusterStatusReport, FailedCall, InstanceCost, QueueJob, SCHEMA_VERSION } from '../report';
import { spotPrices } from './status';

const DEFAULT_QUEUE_TIMEOUT_SECONDS = 30;
const POLL_INTERVAL_MS = 1000;

/**
 * squeue's output, one job a line, fields split by `|`: %i job id, %u user, %T state (extended), %M time used,
 * %D nodes, %R the nodes or the reason it waits, %j the name (last: it may hold any character). squeue(1),
 * https://slurm.schedmd.com/squeue.html (format specifiers), checked 2026-12-07.
 */
export const SQUEUE_COMMAND = "squeue --noheader --sort=i --format='%i|%u|%T|%M|%D|%R|%j'";

/** The queue from squeue's lines; a line that is not a job's is skipped. */
export function parseQueue(stdout: string): QueueJob[] {
  return stdout.split('\n').flatMap((line) => {
    const [jobId, user, state, time, nodes, nodelistOrReason, ...name] = line.trim().split('|');
    if (!jobId || name.length === 0 || !/^\d/.test(jobId)) return [];
    return [{ jobId, name: name.join('|'), user, state, time, nodes: Number(nodes) || 0, nodelistOrReason }];
  });
}

/**
 * An instance's price by its market: the current spot price in its AZ, 0 for a Capacity Block's instance
 * (InstanceLifecycle `capacity-block`: paid for up front with the block), else the catalog's on-demand price.
 */
function costOf(instance: BoxState, spot: Map<string, number>): InstanceCost {
  const price = instance.market === 'spot'
    ? spot.get(`${instance.instanceType}@${instance.availabilityZone}`) ?? null
    : instance.market === 'capacity-block' ? 0 : instanceFacts(instance.instanceType)?.onDemandPricePerHour ?? null;
  return { pricePerHour: price, costPerHour: instance.state === 'running' ? price : 0 };
}

/** The queue, or why there is none; AWS failures become failed calls (one warning each). */
async function readQueue(ctx: CommandContext, region: string, head: BoxState | null, timeoutMs: number, failed: FailedCall[]) {
  if (!head) return { queue: null, problem: 'no head' };
  if (head.state !== 'running') return { queue: null, problem: `the head is ${head.state} (start it with: trainium-spot cluster start)` };
  try {
    const run = await runOnHead(ctx, region, head.instanceId, [SQUEUE_COMMAND],
      { comment: 'trainium-spot cluster status: squeue', timeoutMs, intervalMs: POLL_INTERVAL_MS });
    if (run.status === 'Success') return { queue: parseQueue(run.stdout), problem: null };
    return { queue: null, problem: describeFailedRun(run, head.instanceId, region, timeoutMs) };
  } catch (error) {
    if (!(error instanceof AwsCallError)) throw error;
    failed.push({ action: /ssm:\w+/.exec(error.message)?.[0] ?? 'ssm:SendCommand', message: error.message });
    return { queue: null, problem: `SSM could not run squeue on the head: ${error.message}` };
  }
}

async function run(flags: Flags, ctx: CommandContext): Promise<number> {
  const timeoutSeconds = flags.wholeNumber('timeout', 1) ?? DEFAULT_QUEUE_TIMEOUT_SECONDS;
  const { config, region } = commandTarget(ctx, flags);
  const cluster = requireCluster(config, 'cluster status');
  const now = new Date();
  // The one call status cannot do without: its failure is the command's error.
  const { head, nodes } = await findCluster(ctx, region, config.name);
  const calls = new SecondaryCalls(ctx.aws);
  const queueFailures: FailedCall[] = [];
  const instances = head ? [head, ...nodes] : nodes;
  const [spot, queued] = await Promise.all([
    spotPrices(calls, region, instances.filter((i) => i.state === 'running'), now),
    readQueue(ctx, region, head, timeoutSeconds * 1000, queueFailures),
  ]);
  const nodeStatuses = nodes.map((node) => ({ ...node, ...costOf(node, spot) }));
  const headStatus = head && { ...head, ...costOf(head, spot) };
  const costs = [headStatus, ...nodeStatuses].filter((i) => i !== null).map((i) => i.costPerHour);
  const failedCalls = [...calls.failures(), ...queueFailures];
  const report: ClusterStatusReport = {
    schemaVersion: SCHEMA_VERSION,
    command: 'cluster-status',
    region,
    name: config.name,
    instanceType: cluster.instanceType,
    market: cluster.market,
    maxNodes: cluster.nodes,
    head: headStatus,
    nodes: nodeStatuses,
    queue: queued.queue,
    queueProblem: queued.problem,
    costPerHour: roundTo(costs.reduce<number>((sum, cost) => sum + (cost ?? 0), 0), 6),
    costComplete: costs.every((cost) => cost !== null),
    failedCalls,
  };
  for (const warning of warnings(report)) ctx.io.stderr.write(`${PROGRAM}: warning: ${warning}\n`);
  emit(ctx, report, renderClusterStatus);
  return head ? EXIT_OK : EXIT_NOT_DONE;
}

/** One line per thing the report could not tell: a price, the queue. */
function warnings(r: ClusterStatusReport): string[] {
  const lines = r.failedCalls.filter((f) => f.action === 'ec2:DescribeSpotPriceHistory')
    .map((f) => `"-" under $/h of spot instances: ${f.message}`);
  if (r.head && r.head.state === 'running' && r.queueProblem) lines.push(`queue "-": ${r.queueProblem}`);
  const unpriced = [r.head, ...r.nodes].filter((i) => i !== null && i.costPerHour === null && i.market !== 'spot');
  for (const i of unpriced) lines.push(`the catalog has no price for ${i!.instanceType} (${i!.instanceId}): the cost per hour leaves it out`);
  return lines;
}

const price = (cost: number | null): string => (cost === null ? '-' : usd(cost));

function renderClusterStatus(r: ClusterStatusReport): string {
  const title = `Cluster ${r.name} in ${r.region}: up to ${plural(r.maxNodes, `${r.instanceType} node`)} (${r.market})\n`;
  if (!r.head) {
    return `${title}No head of cluster ${r.name} in ${r.region}. Deploy it (npx cdktf deploy trainium-spot-cluster), or pass --region.\n`;
  }
  const head = `Head: ${r.head.instanceId} ${r.head.state}, ${r.head.instanceType}, launched ${isoOrDash(r.head.launchTime)}, ` +
    `${price(r.head.costPerHour)}/h\n`;
  const nodes = r.nodes.length === 0
    ? 'Nodes: none (Slurm launches them when a job needs them)\n'
    : `Nodes:\n${renderTable(['Node', 'Instance', 'State', 'Type', 'Market', 'Launched', '$/h'],
      r.nodes.map((n) => [n.slurmName, n.instanceId, n.state, n.instanceType, n.market, isoOrDash(n.launchTime), price(n.pricePerHour)]))}`;
  const queue = r.queue === null
    ? 'Queue: -\n'
    : r.queue.length === 0
      ? 'Queue: empty\n'
      : `Queue:\n${renderTable(['Job', 'Name', 'User', 'State', 'Time', 'Nodes', 'Nodelist (reason)'],
        r.queue.map((j) => [j.jobId, j.name, j.user, j.state, j.time, j.nodes, j.nodelistOrReason]))}`;
  const running = [r.head, ...r.nodes].filter((i) => i.state === 'running').length;
  const cost = `Cost now: ${usd(r.costPerHour)}/h for ${plural(running, 'running instance')}` +
    `${r.costComplete ? '' : ' (not counting those whose price is unknown)'}, storage not included\n`;
  return title + head + nodes + queue + cost;
}

export const clusterStatusCommand: CommandSpec = {
  name: 'cluster status',
  summary: 'The head, the compute nodes (Slurm name, instance, state, market), the Slurm queue and $/h now',
  usage: ['cluster status [--region REGION] [--timeout SECONDS]'],
  flags: {
    region: REGION_FLAG,
    timeout: { type: 'string', placeholder: 'SECONDS', description: `How long to wait for squeue on the head (default: ${DEFAULT_QUEUE_TIMEOUT_SECONDS})` },
  },
  examples: ['trainium-spot cluster status', 'trainium-spot cluster status --output json | jq .queue'],
  notes:
    'Queue: squeue on the head, run through SSM Run Command (AWS-RunShellScript); "-" when the head is not\n' +
    'running or SSM cannot run it (one warning line says why; the exit code stays 0).\n' +
    'Cost now: the head at the catalog\'s on-demand price, each running node by its market: the current spot\n' +
    'price in its AZ, the catalog\'s on-demand price, or nothing extra for a Capacity Block (paid up front).\n' +
    'A type the catalog has no price for (a head type such as m7i.large) is left out, and the line says so.\n\n' +
    HEAD_NOTE +
    'Needs ec2:DescribeInstances; for the rest ec2:DescribeSpotPriceHistory, ssm:SendCommand (document\n' +
    'AWS-RunShellScript, on the head) and ssm:GetCommandInvocation.\n\n' +
    'Exit codes: 0 the head was found, 1 no head, 2 error (no cluster in the config).',
  run,
};
