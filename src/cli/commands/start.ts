/**
 * `start`: starts the stopped boxes of the stack and waits until each runs and its SSM agent is
 * online, then says how to connect. A spot box that EC2 stopped for capacity comes back only
 * when capacity does (its persistent request restarts it); start says so instead of failing.
 */
import { LOGIN_USER } from '../../catalog';
import { DEPLOYMENT_FLAG, Flags, FlagSpecs } from '../args';
import { ec2Client, sdk, ssmClient } from '../aws';
import { boxScope, DEPLOYMENT_NOTE, refreshBoxes, requireDeploymentBoxes, SPOT_CAPACITY_STOP } from '../boxes';
import { CommandContext, CommandSpec, emit } from '../command';
import { commandTarget } from '../config';
import { AwsCallError, EXIT_NOT_DONE, EXIT_OK } from '../errors';
import { renderFields } from '../format';
import { BoxState, SCHEMA_VERSION, StartedBox, StartReport } from '../report';

const DEFAULT_TIMEOUT_SECONDS = 900;
const DEFAULT_INTERVAL_SECONDS = 5;

const FLAGS: FlagSpecs = {
  region: { type: 'string', placeholder: 'REGION', description: 'AWS region (default: the configured region)' },
  deployment: DEPLOYMENT_FLAG,
  timeout: { type: 'string', placeholder: 'SECONDS', description: `How long to wait for running and reachable (default: ${DEFAULT_TIMEOUT_SECONDS})` },
  interval: { type: 'string', placeholder: 'SECONDS', description: `Seconds between checks while waiting (default: ${DEFAULT_INTERVAL_SECONDS})` },
};

/** Errors of StartInstances that mean: no capacity for this box right now. */
const NO_CAPACITY = new Set(['InsufficientInstanceCapacity', 'InsufficientCapacity', 'IncorrectSpotRequestState']);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Ids whose SSM agent reports Online. */
async function onlineInSsm(ctx: CommandContext, region: string, ids: readonly string[]): Promise<Set<string>> {
  const client = ssmClient(region);
  const online = new Set<string>();
  await ctx.aws.call('ssm:DescribeInstanceInformation', region, async () => {
    const input = { Filters: [{ Key: 'InstanceIds', Values: [...ids] }] };
    for await (const page of sdk.ssm().paginateDescribeInstanceInformation({ client }, input)) {
      for (const info of page.InstanceInformationList ?? []) {
        if (info.InstanceId && info.PingStatus === 'Online') online.add(info.InstanceId);
      }
    }
  });
  return online;
}

interface Waited {
  readonly boxes: BoxState[];
  readonly seen: Map<string, string[]>;
  readonly reachable: Set<string>;
  readonly done: boolean;
}

/** Polls until every box runs and is online in SSM, or the time is up. */
async function waitUntilReady(ctx: CommandContext, region: string, start: BoxState[], timeoutMs: number, intervalMs: number): Promise<Waited> {
  const ids = start.map((b) => b.instanceId);
  const seen = new Map(start.map((b) => [b.instanceId, [b.state]]));
  const deadline = Date.now() + timeoutMs;
  let boxes = start;
  let reachable = new Set<string>();
  for (;;) {
    const running = boxes.filter((b) => b.state === 'running').map((b) => b.instanceId);
    if (running.length === ids.length) {
      reachable = await onlineInSsm(ctx, region, ids);
      if (reachable.size === ids.length) return { boxes, seen, reachable, done: true };
    }
    if (Date.now() >= deadline) return { boxes, seen, reachable, done: false };
    const waitingFor = boxes.map((b) => `${b.instanceId} ${b.state === 'running' ? 'running, SSM agent not online yet' : b.state}`);
    const hide = ctx.aws.show(`waiting: ${waitingFor.join(', ')}`);
    await sleep(intervalMs);
    hide();
    boxes = await refreshBoxes(ctx, region, ids);
    for (const box of boxes) {
      const states = seen.get(box.instanceId)!;
      if (states[states.length - 1] !== box.state) states.push(box.state);
    }
  }
}

/** Starts the boxes; the ids EC2 refused for want of capacity are returned, not thrown. */
async function startInstances(ctx: CommandContext, region: string, boxes: readonly BoxState[]): Promise<string[]> {
  const client = ec2Client(region);
  const noCapacity: string[] = [];
  for (const box of boxes) {
    try {
      await ctx.aws.call('ec2:StartInstances', region, () =>
        client.send(new (sdk.ec2().StartInstancesCommand)({ InstanceIds: [box.instanceId] })));
    } catch (error) {
      if (error instanceof AwsCallError && NO_CAPACITY.has(error.code)) noCapacity.push(box.instanceId);
      else throw error;
    }
  }
  return noCapacity;
}

const connectCommands = (region: string, instanceId: string) => ({
  ssh: 'trainium-spot ssh',
  sessionManager: `aws ssm start-session --target ${instanceId} --region ${region}`,
});

async function run(flags: Flags, ctx: CommandContext): Promise<number> {
  const timeoutSeconds = flags.wholeNumber('timeout', 0) ?? DEFAULT_TIMEOUT_SECONDS;
  const intervalSeconds = flags.wholeNumber('interval', 0) ?? DEFAULT_INTERVAL_SECONDS;
  const wanted = flags.deployment();
  const { config, region } = commandTarget(ctx, flags);
  const { deployment, boxes } = await requireDeploymentBoxes(ctx, { region, name: config.name, deployment: wanted });

  // A spot box that EC2 stopped for capacity is EC2's to restart: its persistent request does it
  // when capacity returns, and StartInstances on it fails.
  const waitsForCapacity = boxes.filter((b) => b.state === 'stopped' && b.market === 'spot' && b.stateReason === SPOT_CAPACITY_STOP);
  const startable = boxes.filter((b) => b.state === 'stopped' && !waitsForCapacity.includes(b));
  const refused = await startInstances(ctx, region, startable);
  const noCapacity = new Set([...waitsForCapacity.map((b) => b.instanceId), ...refused]);
  const toWaitFor = boxes.filter((b) => !noCapacity.has(b.instanceId));

  const waited = toWaitFor.length > 0
    ? await waitUntilReady(ctx, region, toWaitFor, timeoutSeconds * 1000, intervalSeconds * 1000)
    : { boxes: [], seen: new Map<string, string[]>(), reachable: new Set<string>(), done: true };
  const byId = new Map(waited.boxes.map((b) => [b.instanceId, b]));
  const started: StartedBox[] = boxes.map((b) => ({
    ...(byId.get(b.instanceId) ?? b),
    statesSeen: waited.seen.get(b.instanceId) ?? [b.state],
    reachable: waited.reachable.has(b.instanceId),
  }));
  const outcome: StartReport['outcome'] = noCapacity.size > 0 ? 'capacity-not-back' : waited.done ? 'ready' : 'timed-out';
  const first = started.find((b) => b.reachable) ?? started[0];
  const report: StartReport = {
    schemaVersion: SCHEMA_VERSION,
    command: 'start',
    region,
    name: config.name,
    deployment,
    outcome,
    boxes: started,
    connect: connectCommands(region, first.instanceId),
  };
  emit(ctx, report, (r) => renderStart(r, timeoutSeconds));
  return outcome === 'ready' ? EXIT_OK : EXIT_NOT_DONE;
}

function renderStart(r: StartReport, timeoutSeconds: number): string {
  const lines = r.boxes.map((b) => {
    const path = b.statesSeen.join(' -> ');
    if (b.state === 'stopped' && b.market === 'spot') {
      return `${b.instanceId}: spot capacity for ${b.instanceType} in ${b.availabilityZone ?? r.region} is not back yet; ` +
        'its persistent spot request starts it when capacity returns (try again later, or see trainium-spot spot-price)';
    }
    if (b.state === 'stopped') {
      return `${b.instanceId}: EC2 has no ${b.instanceType} capacity in ${b.availabilityZone ?? r.region} right now; try again later`;
    }
    return `${b.instanceId}: ${path}${b.reachable ? `, SSM agent online, public IP ${b.publicIp ?? 'none'}` : ''}`;
  });
  const tail = r.outcome === 'ready'
    ? `\nConnect:\n${renderFields([['ssh', r.connect.ssh], ['Session Manager', r.connect.sessionManager],
      ['VS Code / ssh', `trainium-spot ssh-config, then: ssh ${r.name}`]])}` +
      `(log in as ${LOGIN_USER}; the box stops itself when idle, start it again with trainium-spot start)\n`
    : r.outcome === 'timed-out'
      ? `Not running and reachable after ${timeoutSeconds} s; run trainium-spot status to follow it.\n`
      : '';
  return `${boxScope(r.name, r.region, r.deployment)}:\n${lines.join('\n')}\n${tail}`;
}

export const startCommand: CommandSpec = {
  name: 'start',
  summary: 'Start the stopped boxes and wait until they run and Session Manager reaches them',
  usage: ['start [--region REGION] [--deployment ID] [--timeout SECONDS] [--interval SECONDS]'],
  flags: FLAGS,
  examples: ['trainium-spot start', 'trainium-spot start --output json | jq -r .outcome'],
  notes:
    'Running boxes are left as they are and waited for. The public IP changes on every start; ssh and\n' +
    'ssh-config connect by instance id through Session Manager, so that never matters.\n' +
    'A spot box stopped by EC2 for capacity (state reason Server.SpotInstanceShutdown), or refused\n' +
    'with InsufficientInstanceCapacity, restarts on its own when capacity returns.\n\n' +
    DEPLOYMENT_NOTE +
    'Exit codes: 0 running and reachable, 1 capacity not back or not ready in time, 2 error.',
  run,
};
