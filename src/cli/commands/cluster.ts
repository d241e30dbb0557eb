/**
 * `cluster`: the Slurm cluster's daily commands. `cluster start` starts a stopped head and waits until it
 * runs; `cluster ssh` connects to the head through Session Manager; `cluster status` and `cluster submit`
 * have files of their own.
 */
import { Flags, REGION_FLAG } from '../args';
import { ec2Client, sdk } from '../aws';
import { cachedKey, homeOf, refreshBoxes } from '../boxes';
import { findCluster, HEAD_NOTE, headName, requireCluster, requireHead } from '../cluster';
import { CommandContext, CommandGroup, CommandSpec, emit } from '../command';
import { commandTarget } from '../config';
import { CliError, EXIT_NOT_DONE, EXIT_OK } from '../errors';
import { shellQuote } from '../format';
import { BoxState, ClusterSshReport, ClusterStartReport, SCHEMA_VERSION } from '../report';
import { clusterStatusCommand } from './cluster-status';
import { clusterSubmitCommand } from './cluster-submit';
import { runInteractive, sessionManagerSsh } from './ssh';

// ---------------------------------------------------------------------------------------------
// cluster start
// ---------------------------------------------------------------------------------------------

const DEFAULT_TIMEOUT_SECONDS = 300;
const DEFAULT_INTERVAL_SECONDS = 5;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls the head until it runs or the time is up; every state seen, in order. */
async function waitUntilRunning(ctx: CommandContext, region: string, head: BoxState, timeoutMs: number, intervalMs: number) {
  const seen = [head.state];
  const deadline = Date.now() + timeoutMs;
  let current = head;
  while (current.state !== 'running' && Date.now() < deadline) {
    const hide = ctx.aws.show(`waiting: head ${current.instanceId} ${current.state}`);
    await sleep(intervalMs);
    hide();
    current = (await refreshBoxes(ctx, region, [head.instanceId]))[0] ?? current;
    if (seen[seen.length - 1] !== current.state) seen.push(current.state);
  }
  return { head: current, seen };
}

async function runStart(flags: Flags, ctx: CommandContext): Promise<number> {
  const timeoutSeconds = flags.wholeNumber('timeout', 0) ?? DEFAULT_TIMEOUT_SECONDS;
  const intervalSeconds = flags.wholeNumber('interval', 0) ?? DEFAULT_INTERVAL_SECONDS;
  const { config, region } = commandTarget(ctx, flags);
  requireCluster(config, 'cluster start');
  const head = requireHead(await findCluster(ctx, region, config.name), config.name, region);
  if (head.state === 'stopping') {
    throw new CliError(`the head ${head.instanceId} of cluster ${config.name} is stopping; start it once it has stopped`);
  }
  if (head.state === 'stopped') {
    const client = ec2Client(region);
    await ctx.aws.call('ec2:StartInstances', region, () =>
      client.send(new (sdk.ec2().StartInstancesCommand)({ InstanceIds: [head.instanceId] })));
  }
  const waited = await waitUntilRunning(ctx, region, head.state === 'stopped' ? { ...head, state: 'pending' } : head,
    timeoutSeconds * 1000, intervalSeconds * 1000);
  const seen = head.state === 'stopped' ? ['stopped', ...waited.seen] : waited.seen;
  const report: ClusterStartReport = {
    schemaVersion: SCHEMA_VERSION,
    command: 'cluster-start',
    region,
    name: config.name,
    outcome: waited.head.state === 'running' ? 'running' : 'timed-out',
    head: { ...waited.head, statesSeen: seen },
  };
  emit(ctx, report, (r) => `Head ${r.head.instanceId} of cluster ${r.name} in ${r.region}: ${r.head.statesSeen.join(' -> ')}\n` +
    (r.outcome === 'running'
      ? 'Next: trainium-spot cluster status, trainium-spot cluster ssh, trainium-spot cluster submit -- <command>\n'
      : `Not running after ${timeoutSeconds} s; follow it with trainium-spot cluster status.\n`));
  return report.outcome === 'running' ? EXIT_OK : EXIT_NOT_DONE;
}

const clusterStartCommand: CommandSpec = {
  name: 'cluster start',
  summary: 'Start the stopped head (Slurm controller and login box) and wait until it runs',
  usage: ['cluster start [--region REGION] [--timeout SECONDS] [--interval SECONDS]'],
  flags: {
    region: REGION_FLAG,
    timeout: { type: 'string', placeholder: 'SECONDS', description: `How long to wait for the head to run (default: ${DEFAULT_TIMEOUT_SECONDS})` },
    interval: { type: 'string', placeholder: 'SECONDS', description: `Seconds between checks while waiting (default: ${DEFAULT_INTERVAL_SECONDS})` },
  },
  examples: ['trainium-spot cluster start', 'trainium-spot cluster start --output json | jq -r .outcome'],
  notes:
    'The head stops itself when no Slurm job is pending or running and nobody is logged in; compute\n' +
    'nodes exist only while jobs need them, so starting the head is all a cluster needs to take jobs.\n' +
    'A running head is left as it is.\n\n' +
    HEAD_NOTE +
    'Exit codes: 0 the head runs, 1 not running within --timeout, 2 error (no cluster in the config, no head).',
  run: runStart,
};

// ---------------------------------------------------------------------------------------------
// cluster ssh
// ---------------------------------------------------------------------------------------------

async function runSsh(flags: Flags, ctx: CommandContext): Promise<number> {
  const { config, region } = commandTarget(ctx, flags);
  requireCluster(config, 'cluster ssh');
  const head = requireHead(await findCluster(ctx, region, config.name), config.name, region);
  if (head.state !== 'running') {
    throw new CliError(`the head ${head.instanceId} of cluster ${config.name} is ${head.state}; start it with: trainium-spot cluster start`);
  }
  if (ctx.output !== 'json') ctx.io.stderr.write(`trainium-spot: ${head.instanceId}, head of cluster ${config.name} in ${region}\n`);
  // With a key pair, ssh as the box's ssh does (scp and port forwards work); without one, Session Manager's own shell.
  const argv = head.keyName
    ? sessionManagerSsh(['-i', await cachedKey(ctx, region, headName(config.name), head.keyName, homeOf(ctx.io.env)), '-o', 'IdentitiesOnly=yes'],
      head.instanceId, region)
    : ['aws', 'ssm', 'start-session', '--target', head.instanceId, '--region', region];
  if (flags.boolean('print') || ctx.output === 'json') {
    const report: ClusterSshReport = {
      schemaVersion: SCHEMA_VERSION, command: 'cluster-ssh', region, instanceId: head.instanceId,
      route: head.keyName ? 'ssh' : 'session-manager-shell', argv,
    };
    emit(ctx, report, (r) => `${r.argv.map(shellQuote).join(' ')}\n`);
    return EXIT_OK;
  }
  return runInteractive(argv);
}

const clusterSshCommand: CommandSpec = {
  name: 'cluster ssh',
  summary: 'Connect to the running head through Session Manager',
  usage: ['cluster ssh [--region REGION] [--print]'],
  flags: { region: REGION_FLAG, print: { type: 'boolean', description: 'Print the command instead of running it' } },
  examples: ['trainium-spot cluster ssh', 'trainium-spot cluster ssh --print'],
  notes:
    'Session Manager reaches the head without an open port. When the head has a key pair, ssh goes through\n' +
    'Session Manager (AWS-StartSSHSession) with its private key, fetched from its SSM SecureString once and\n' +
    'kept at ~/.ssh/<name>-head-<key pair id>.pem (mode 0600), as for the box; without one, the command is\n' +
    '`aws ssm start-session` (a shell as ssm-user; `sudo -iu ubuntu` for the login user). Either way the AWS CLI\n' +
    'and its Session Manager plugin must be installed here.\n\n' +
    HEAD_NOTE +
    "Exit codes: ssh's (or the AWS CLI's) own; 0 with --print; 2 error before it ran.",
  run: runSsh,
};

// ---------------------------------------------------------------------------------------------
// The group
// ---------------------------------------------------------------------------------------------

export const clusterGroup: CommandGroup = {
  name: 'cluster',
  summary: 'The Slurm cluster: start its head, see nodes, queue and cost, connect, submit jobs',
  subcommands: [clusterStatusCommand, clusterStartCommand, clusterSshCommand, clusterSubmitCommand],
  notes:
    'Every cluster command reads the `cluster` key of the configuration (the same as the stack\'s) and\n' +
    'acts on the stack trainium-spot-cluster in the configured region; without that key it stops with one line.\n' +
    'quota, where and capacity take --cluster to check the cluster\'s nodes before you deploy.\n',
};
