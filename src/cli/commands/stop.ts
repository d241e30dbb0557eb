/**
 * `stop`: stops the running boxes of one deployment of the stack. A spot box's persistent request stays
 * and keeps it (stopped, disk and all) for `start`. On a terminal it asks first; scripts pass --yes. Either
 * way it lists what it stops: the boxes, their name and their deployment.
 */
import { DEPLOYMENT_FLAG, Flags, FlagSpecs } from '../args';
import { ec2Client, sdk } from '../aws';
import { boxScope, DEPLOYMENT_NOTE, requireDeploymentBoxes } from '../boxes';
import { CommandContext, CommandSpec, emit } from '../command';
import { commandTarget } from '../config';
import { EXIT_NOT_DONE, EXIT_OK, UsageError } from '../errors';
import { plural } from '../format';
import { SCHEMA_VERSION, StopReport } from '../report';

const FLAGS: FlagSpecs = {
  region: { type: 'string', placeholder: 'REGION', description: 'AWS region (default: the configured region)' },
  deployment: DEPLOYMENT_FLAG,
  yes: { type: 'boolean', description: 'Stop without asking (for scripts)' },
};

const STOPPABLE = ['pending', 'running'];

async function run(flags: Flags, ctx: CommandContext): Promise<number> {
  const wanted = flags.deployment();
  const { config, region } = commandTarget(ctx, flags);
  const { deployment, boxes } = await requireDeploymentBoxes(ctx, { region, name: config.name, deployment: wanted });
  const toStop = boxes.filter((b) => STOPPABLE.includes(b.state));
  const alreadyStopped = boxes.filter((b) => !STOPPABLE.includes(b.state)).map((b) => b.instanceId);

  if (toStop.length > 0 && !flags.boolean('yes')) {
    const what = `${plural(toStop.length, 'box', 'boxes')} of ${boxScope(config.name, region, deployment)}: ` +
      toStop.map((b) => `${b.instanceId} (${b.instanceType} ${b.market})`).join(', ');
    if (!ctx.io.confirm) {
      throw new UsageError('stop', `not stopping ${what}, without confirmation: there is no terminal to ask on; pass --yes`);
    }
    if (!(await ctx.io.confirm(`Stop ${what}?`))) {
      ctx.io.stderr.write('trainium-spot: stop: nothing stopped\n');
      return EXIT_NOT_DONE;
    }
  }

  let stopped: StopReport['stopped'] = [];
  if (toStop.length > 0) {
    const client = ec2Client(region);
    const out = await ctx.aws.call('ec2:StopInstances', region, () =>
      client.send(new (sdk.ec2().StopInstancesCommand)({ InstanceIds: toStop.map((b) => b.instanceId) })));
    stopped = (out.StoppingInstances ?? []).map((change) => ({
      instanceId: change.InstanceId ?? '',
      previousState: change.PreviousState?.Name ?? 'unknown',
      currentState: change.CurrentState?.Name ?? 'unknown',
    }));
  }
  const report: StopReport = { schemaVersion: SCHEMA_VERSION, command: 'stop', region, name: config.name, deployment, stopped, alreadyStopped };
  emit(ctx, report, renderStop);
  return EXIT_OK;
}

function renderStop(r: StopReport): string {
  const lines = [`${boxScope(r.name, r.region, r.deployment)}:`, ...r.stopped.map((s) => `${s.instanceId}: ${s.previousState} -> ${s.currentState}`)];
  if (r.alreadyStopped.length > 0) lines.push(`Already stopped or stopping: ${r.alreadyStopped.join(', ')}`);
  if (r.stopped.length > 0) lines.push('The disks stay (storage is still billed); start again with: trainium-spot start');
  return `${lines.join('\n')}\n`;
}

export const stopCommand: CommandSpec = {
  name: 'stop',
  summary: 'Stop the running boxes (they keep their disk; start brings them back)',
  usage: ['stop [--region REGION] [--deployment ID] [--yes]'],
  flags: FLAGS,
  examples: ['trainium-spot stop', 'trainium-spot stop --yes'],
  notes:
    'Boxes stop by themselves when idle; stop is for when you are done early. A spot box\'s persistent\n' +
    'request is kept, so the box stays yours, stopped, until you start it.\n' +
    'On a terminal stop asks first; without a terminal it refuses unless --yes is given. It names the\n' +
    'boxes, their name and their deployment in the question and in what it prints after.\n\n' +
    DEPLOYMENT_NOTE +
    'Exit codes: 0 stopped (or nothing was running), 1 you answered no, 2 error.',
  run,
};
