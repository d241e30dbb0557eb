/**
 * `status`: every box of the stack in the region, found by its tags (no Terraform state needed):
 * state, market, type, AZ, public IP, uptime, the idle check's last verdict, and what it costs.
 */
import type { _InstanceType } from '@aws-sdk/client-ec2';
import { IDLE_METRIC, instanceFacts } from '../../catalog';
import { Flags, FlagSpecs } from '../args';
import { cloudWatchClient, ec2Client, sdk } from '../aws';
import { findBoxes } from '../boxes';
import { CommandContext, CommandSpec, emit } from '../command';
import { commandTarget } from '../config';
import { AwsCallError, EXIT_NOT_DONE, EXIT_OK } from '../errors';
import { plural, renderTable, roundTo, usd } from '../format';
import { BoxState, BoxStatus, SCHEMA_VERSION, StatusReport } from '../report';

const FLAGS: FlagSpecs = {
  region: { type: 'string', placeholder: 'REGION', description: 'AWS region (default: the configured region)' },
};

/** How far back the idle verdict may date: the check publishes every minute or so. */
const IDLE_LOOKBACK_MS = 3_600_000;
const PRODUCT_DESCRIPTION = 'Linux/UNIX';

/** AWS's names for a denied call: without CloudWatch read rights status still shows everything else. */
const DENIED = new Set(['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation']);

async function idleVerdict(ctx: CommandContext, region: string, instanceId: string, now: Date): Promise<BoxStatus['idle']> {
  const client = cloudWatchClient(region);
  const out = await ctx.aws.call('cloudwatch:GetMetricStatistics', region, () =>
    client.send(new (sdk.cloudWatch().GetMetricStatisticsCommand)({
      Namespace: IDLE_METRIC.namespace,
      MetricName: IDLE_METRIC.name,
      Dimensions: [{ Name: IDLE_METRIC.dimension, Value: instanceId }],
      StartTime: new Date(now.getTime() - IDLE_LOOKBACK_MS),
      EndTime: now,
      Period: 60,
      Statistics: ['Maximum'],
    }))).catch((error: unknown) => {
    if (error instanceof AwsCallError && DENIED.has(error.code)) return { Datapoints: [] };
    throw error;
  });
  const latest = (out.Datapoints ?? [])
    .filter((d) => d.Timestamp && typeof d.Maximum === 'number')
    .sort((a, b) => b.Timestamp!.getTime() - a.Timestamp!.getTime())[0];
  return latest ? { verdict: latest.Maximum! >= 1 ? 'idle' : 'busy', at: latest.Timestamp!.toISOString() } : null;
}

/** The current spot price per AZ of each spot box's type. */
async function spotPrices(ctx: CommandContext, region: string, boxes: readonly BoxState[], now: Date): Promise<Map<string, number>> {
  const spotTypes = [...new Set(boxes.filter((b) => b.market === 'spot').map((b) => b.instanceType))];
  const prices = new Map<string, number>();
  if (spotTypes.length === 0) return prices;
  const client = ec2Client(region);
  const out = await ctx.aws.call('ec2:DescribeSpotPriceHistory', region, () =>
    client.send(new (sdk.ec2().DescribeSpotPriceHistoryCommand)({
      InstanceTypes: spotTypes as _InstanceType[],
      ProductDescriptions: [PRODUCT_DESCRIPTION],
      // A start time of now asks for the price in effect now, one entry per type and AZ.
      StartTime: now,
      EndTime: now,
    })));
  for (const entry of out.SpotPriceHistory ?? []) {
    const price = Number(entry.SpotPrice);
    if (entry.AvailabilityZone && entry.InstanceType && Number.isFinite(price)) {
      prices.set(`${entry.InstanceType}@${entry.AvailabilityZone}`, price);
    }
  }
  return prices;
}

export function costPerHour(box: BoxState, spotPrice: number | null): number {
  if (box.state !== 'running') return 0;
  return spotPrice ?? instanceFacts(box.instanceType)?.onDemandPricePerHour ?? 0;
}

async function run(flags: Flags, ctx: CommandContext): Promise<number> {
  const { config, region } = commandTarget(ctx, flags);
  const now = new Date();
  const boxes = await findBoxes(ctx, region, config.name);
  const [prices, verdicts] = await Promise.all([
    spotPrices(ctx, region, boxes, now),
    Promise.all(boxes.map((b) => (b.state === 'running' ? idleVerdict(ctx, region, b.instanceId, now) : Promise.resolve(null)))),
  ]);
  const statuses: BoxStatus[] = boxes.map((box, i) => {
    const spotPrice = box.market === 'spot' ? prices.get(`${box.instanceType}@${box.availabilityZone}`) ?? null : null;
    return {
      ...box,
      uptimeMinutes: box.state === 'running' && box.launchTime
        ? Math.max(0, Math.floor((now.getTime() - Date.parse(box.launchTime)) / 60_000)) : null,
      idle: verdicts[i],
      spotPricePerHour: spotPrice,
      costPerHour: costPerHour(box, spotPrice),
    };
  });
  const report: StatusReport = {
    schemaVersion: SCHEMA_VERSION,
    command: 'status',
    region,
    name: config.name,
    boxes: statuses,
    costPerHour: roundTo(statuses.reduce((sum, b) => sum + b.costPerHour, 0), 6),
  };
  emit(ctx, report, renderStatus);
  return boxes.length > 0 ? EXIT_OK : EXIT_NOT_DONE;
}

const uptime = (minutes: number | null): string =>
  minutes === null ? '-' : minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;

function renderStatus(r: StatusReport): string {
  if (r.boxes.length === 0) {
    return `No box named ${r.name} in ${r.region}. Deployed elsewhere? Pass --region, or set "region" in the config.\n`;
  }
  const table = renderTable(
    ['Instance', 'State', 'Market', 'Type', 'AZ', 'Public IP', 'Uptime', 'Idle check', 'Spot $/h', 'Cost $/h'],
    r.boxes.map((b) => [
      b.instanceId, b.state, b.market, b.instanceType,
      b.availabilityZoneId ? `${b.availabilityZone} (${b.availabilityZoneId})` : b.availabilityZone ?? '-',
      b.publicIp ?? '-', uptime(b.uptimeMinutes), b.idle ? `${b.idle.verdict} at ${b.idle.at.slice(11, 16)}Z` : '-',
      b.spotPricePerHour === null ? '-' : usd(b.spotPricePerHour), usd(b.costPerHour),
    ]),
  );
  const running = r.boxes.filter((b) => b.state === 'running').length;
  const next = running > 0 ? 'Connect: trainium-spot ssh' : 'Start: trainium-spot start';
  return `${r.name} in ${r.region}: ${plural(r.boxes.length, 'box', 'boxes')}, ${running} running\n${table}` +
    `Running boxes cost ${usd(r.costPerHour)}/h (storage extra). ${next}\n`;
}

export const statusCommand: CommandSpec = {
  name: 'status',
  summary: 'Every box of the stack: state, market, IP, uptime, idle verdict, cost per hour',
  usage: ['status [--region REGION]'],
  flags: FLAGS,
  examples: ['trainium-spot status', 'trainium-spot status --output json | jq -r .boxes[0].publicIp'],
  notes:
    'Boxes are found by their tags (Name = the configured name, ManagedBy=trainium-spot) in the\n' +
    'configured region, so status needs no Terraform state. The idle verdict is the latest value of\n' +
    `the on-box check's CloudWatch metric ${IDLE_METRIC.namespace}/${IDLE_METRIC.name} in the last hour ("-" when there is none,\n` +
    'or cloudwatch:GetMetricStatistics is denied). Cost: the current spot price for spot boxes, else\n' +
    'the catalog on-demand price (US East); stopped boxes cost only storage.\n\n' +
    'Exit codes: 0 boxes listed, 1 no box found, 2 error.',
  run,
};
