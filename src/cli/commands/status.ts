/**
 * `status`: every box of the stack in the region, found by its tags (no Terraform state needed):
 * state, market, type, AZ, public IP, uptime, the agent's status from SSM State Manager, the idle
 * check's last verdict, and what it costs. Only finding the boxes must succeed: every other call adds
 * a column, and when it fails the column shows "-" and one warning line says why.
 */
import type { _InstanceType, Volume } from '@aws-sdk/client-ec2';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { InstanceAssociationStatusInfo, SSMClient } from '@aws-sdk/client-ssm';
import { agentAssociationName, DATA_VOLUME, IDLE_METRIC, instanceFacts, verdictNamespace } from '../../catalog';
import { DEPLOYMENT_FLAG, Flags, FlagSpecs } from '../args';
import { cloudWatchClient, ec2Client, sdk, SecondaryCalls, ssmClient } from '../aws';
import { boxScope, DEPLOYMENT_NOTE, deploymentBoxes } from '../boxes';
import { CommandContext, CommandSpec, emit } from '../command';
import { commandTarget } from '../config';
import { EXIT_NOT_DONE, EXIT_OK, oneLine } from '../errors';
import { plural, renderTable, roundTo, usd } from '../format';
import { PROGRAM } from '../help';
import { AgentStatus, BoxState, BoxStatus, DataVolumeStatus, SCHEMA_VERSION, StatusReport } from '../report';

const FLAGS: FlagSpecs = {
  region: { type: 'string', placeholder: 'REGION', description: 'AWS region (default: the configured region)' },
  deployment: DEPLOYMENT_FLAG,
};

/** How far back the idle verdict may date: the check publishes every minute or so. */
const IDLE_LOOKBACK_MS = 3_600_000;
const PRODUCT_DESCRIPTION = 'Linux/UNIX';

/** The table's columns that secondary calls fill: a failing call leaves "-" there and names the column in its warning. */
const COLUMN_OF_ACTION: Readonly<Record<string, string>> = {
  'ssm:DescribeInstanceAssociationsStatus': 'Agent',
  'cloudwatch:GetMetricStatistics': 'Idle check',
  'ec2:DescribeSpotPriceHistory': 'Spot $/h',
  'ec2:DescribeVolumes': 'Data volume',
};

/**
 * The largest page DescribeInstanceAssociationsStatus allows (MaxResults 1 to 50): a box has few
 * associations, so this is nearly always one call. SSM API Reference, DescribeInstanceAssociationsStatus,
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DescribeInstanceAssociationsStatus.html,
 * checked 2026-12-07.
 */
const ASSOCIATIONS_PAGE_SIZE = 50;

/**
 * SSM answers InvalidInstanceId (one of the errors the same page lists) when the instance is not a
 * managed node: SSM Agent is not running or not registered (a box that has just launched), or the
 * instance is shutting down or terminated. That is a state of the box ("none"), not a failure of the
 * call. Its causes: botocore's SSM exceptions, InvalidInstanceId,
 * https://docs.aws.amazon.com/botocore/latest/reference/services/ssm/client/exceptions/InvalidInstanceId.html,
 * checked 2026-12-07.
 */
const NOT_A_MANAGED_NODE = 'InvalidInstanceId';

/**
 * The statuses SSM documents for an association: "Status can be: Pending, Success, or Failed".
 * SSM API Reference, AssociationOverview,
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_AssociationOverview.html, checked 2026-12-07.
 */
const AGENT_STATES: Readonly<Record<string, AgentStatus['state']>> = { Success: 'success', Failed: 'failed', Pending: 'pending' };

const NO_AGENT: AgentStatus = {
  state: 'none', ssmStatus: null, detailedStatus: null, reason: null, errorCode: null, at: null, documentVersion: null, associationVersion: null,
};

/**
 * The agent's status from one InstanceAssociationStatusInfo (fields as in the SSM API Reference,
 * InstanceAssociationStatusInfo, https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_InstanceAssociationStatusInfo.html,
 * checked 2026-12-07: Status, DetailedStatus, ExecutionSummary up to 512 characters, ErrorCode up to 10,
 * ExecutionDate, DocumentVersion, AssociationVersion).
 */
function agentOf(info: InstanceAssociationStatusInfo | undefined): AgentStatus {
  if (!info) return NO_AGENT;
  const state = (info.Status && AGENT_STATES[info.Status]) || 'unknown';
  const detailed = info.DetailedStatus || null;
  const summary = info.ExecutionSummary ? oneLine(info.ExecutionSummary).replace(/\.$/, '') : '';
  const reasons = [detailed && detailed !== info.Status ? detailed : '', summary].filter(Boolean);
  return {
    state,
    ssmStatus: info.Status || null,
    detailedStatus: detailed,
    reason: state === 'failed' ? reasons.join(': ') || (info.ErrorCode ? `error code ${info.ErrorCode}` : null) : null,
    errorCode: info.ErrorCode || null,
    at: info.ExecutionDate?.toISOString() ?? null,
    documentVersion: info.DocumentVersion || null,
    associationVersion: info.AssociationVersion || null,
  };
}

/** The box's agent: the entry of the stack's association among the box's associations; `null` when the call failed. */
async function agentStatus(calls: SecondaryCalls, client: SSMClient, region: string, instanceId: string, association: string): Promise<AgentStatus | null> {
  const info = await calls.call('ssm:DescribeInstanceAssociationsStatus', region, async () => {
    try {
      const pages = sdk.ssm().paginateDescribeInstanceAssociationsStatus({ client, pageSize: ASSOCIATIONS_PAGE_SIZE }, { InstanceId: instanceId });
      for await (const page of pages) {
        const entry = page.InstanceAssociationStatusInfos?.find((i) => i.AssociationName === association);
        if (entry) return entry;
      }
      return undefined;
    } catch (error) {
      if ((error as { name?: string } | null)?.name === NOT_A_MANAGED_NODE) return undefined;
      throw error;
    }
  });
  return info === null ? null : agentOf(info);
}

/** The box's latest verdict, from its own namespace: the only one the box may publish to, so no other box's word. */
async function idleVerdict(calls: SecondaryCalls, client: CloudWatchClient, region: string, box: BoxState, now: Date): Promise<BoxStatus['idle']> {
  // Without the owner DescribeInstances names, the namespace is unknown: "-" rather than a guess.
  if (box.instanceArn === null) return null;
  const instanceArn = box.instanceArn;
  const out = await calls.call('cloudwatch:GetMetricStatistics', region, () =>
    client.send(new (sdk.cloudWatch().GetMetricStatisticsCommand)({
      Namespace: verdictNamespace(instanceArn),
      MetricName: IDLE_METRIC.name,
      Dimensions: [{ Name: IDLE_METRIC.dimension, Value: box.instanceId }],
      StartTime: new Date(now.getTime() - IDLE_LOOKBACK_MS),
      EndTime: now,
      Period: 60,
      Statistics: ['Maximum'],
    })));
  const latest = (out?.Datapoints ?? [])
    .filter((d) => d.Timestamp && typeof d.Maximum === 'number')
    .sort((a, b) => b.Timestamp!.getTime() - a.Timestamp!.getTime())[0];
  return latest ? { verdict: latest.Maximum! >= 1 ? 'idle' : 'busy', at: latest.Timestamp!.toISOString() } : null;
}

/** The current spot price per AZ (key `<type>@<AZ>`) of each spot box's type; empty when the call failed. */
export async function spotPrices(calls: SecondaryCalls, region: string, boxes: readonly BoxState[], now: Date): Promise<Map<string, number>> {
  const spotTypes = [...new Set(boxes.filter((b) => b.market === 'spot').map((b) => b.instanceType))];
  const prices = new Map<string, number>();
  if (spotTypes.length === 0) return prices;
  const client = ec2Client(region);
  const out = await calls.call('ec2:DescribeSpotPriceHistory', region, () =>
    client.send(new (sdk.ec2().DescribeSpotPriceHistoryCommand)({
      InstanceTypes: spotTypes as _InstanceType[],
      ProductDescriptions: [PRODUCT_DESCRIPTION],
      // A start time of now asks for the price in effect now, one entry per type and AZ.
      StartTime: now,
      EndTime: now,
    })));
  for (const entry of out?.SpotPriceHistory ?? []) {
    const price = Number(entry.SpotPrice);
    if (entry.AvailabilityZone && entry.InstanceType && Number.isFinite(price)) {
      prices.set(`${entry.InstanceType}@${entry.AvailabilityZone}`, price);
    }
  }
  return prices;
}

const NO_DATA_VOLUME: DataVolumeStatus = { state: 'none', volumeId: null, sizeGiB: null };

/**
 * Each box's data volume, from DescribeVolumes over every box at once: the volume attached to it at the
 * stack's device name. `null` when the call failed.
 */
async function dataVolumes(calls: SecondaryCalls, region: string, boxes: readonly BoxState[]): Promise<Map<string, DataVolumeStatus> | null> {
  const client = ec2Client(region);
  const volumes = await calls.call('ec2:DescribeVolumes', region, async () => {
    const found: Volume[] = [];
    const filters = [
      { Name: 'attachment.instance-id', Values: boxes.map((b) => b.instanceId) },
      { Name: 'attachment.device', Values: [DATA_VOLUME.deviceName] },
    ];
    for await (const page of sdk.ec2().paginateDescribeVolumes({ client }, { Filters: filters })) found.push(...(page.Volumes ?? []));
    return found;
  });
  if (volumes === null) return null;
  const byBox = new Map<string, DataVolumeStatus>();
  for (const volume of volumes) {
    for (const attachment of volume.Attachments ?? []) {
      if (attachment.InstanceId && attachment.Device === DATA_VOLUME.deviceName) {
        byBox.set(attachment.InstanceId, { state: attachment.State ?? 'unknown', volumeId: volume.VolumeId ?? null, sizeGiB: volume.Size ?? null });
      }
    }
  }
  return byBox;
}

export function costPerHour(box: BoxState, spotPrice: number | null): number {
  if (box.state !== 'running') return 0;
  return spotPrice ?? instanceFacts(box.instanceType)?.onDemandPricePerHour ?? 0;
}

async function run(flags: Flags, ctx: CommandContext): Promise<number> {
  const wanted = flags.deployment();
  const { config, region } = commandTarget(ctx, flags);
  const now = new Date();
  // The one call status cannot do without: its failure is the command's error.
  const { deployment, boxes } = await deploymentBoxes(ctx, { region, name: config.name, deployment: wanted });
  const association = agentAssociationName(config.name);
  const calls = new SecondaryCalls(ctx.aws);
  const cloudWatch = boxes.some((b) => b.state === 'running') ? cloudWatchClient(region) : undefined;
  const ssm = boxes.length > 0 ? ssmClient(region) : undefined;
  const withDataVolume = config.dataVolume !== undefined && boxes.length > 0;
  const [prices, verdicts, agents, volumes] = await Promise.all([
    spotPrices(calls, region, boxes, now),
    Promise.all(boxes.map((b) => (cloudWatch && b.state === 'running' ? idleVerdict(calls, cloudWatch, region, b, now) : null))),
    ssm ? Promise.all(boxes.map((b) => agentStatus(calls, ssm, region, b.instanceId, association))) : [],
    withDataVolume ? dataVolumes(calls, region, boxes) : null,
  ]);
  const statuses: BoxStatus[] = boxes.map((box, i) => {
    const spotPrice = box.market === 'spot' ? prices.get(`${box.instanceType}@${box.availabilityZone}`) ?? null : null;
    return {
      ...box,
      uptimeMinutes: box.state === 'running' && box.launchTime
        ? Math.max(0, Math.floor((now.getTime() - Date.parse(box.launchTime)) / 60_000)) : null,
      idle: verdicts[i],
      agent: agents[i],
      dataVolume: volumes && (volumes.get(box.instanceId) ?? NO_DATA_VOLUME),
      spotPricePerHour: spotPrice,
      costPerHour: costPerHour(box, spotPrice),
    };
  });
  const failedCalls = calls.failures();
  for (const failed of failedCalls) {
    ctx.io.stderr.write(`${PROGRAM}: warning: "-" under ${COLUMN_OF_ACTION[failed.action] ?? failed.action}: ${failed.message}\n`);
  }
  const report: StatusReport = {
    schemaVersion: SCHEMA_VERSION,
    command: 'status',
    region,
    name: config.name,
    agentAssociation: association,
    deployment,
    dataVolumes: withDataVolume,
    boxes: statuses,
    costPerHour: roundTo(statuses.reduce((sum, b) => sum + b.costPerHour, 0), 6),
    failedCalls,
  };
  emit(ctx, report, (r) => renderStatus(r, now));
  return boxes.length > 0 ? EXIT_OK : EXIT_NOT_DONE;
}

const uptime = (minutes: number | null): string =>
  minutes === null ? '-' : minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;

/** `15:02Z` for a time of today (UTC), else `2026-12-05 15:02Z`. */
function clock(iso: string, now: Date): string {
  const day = iso.slice(0, 10);
  return `${day === now.toISOString().slice(0, 10) ? '' : `${day} `}${iso.slice(11, 16)}Z`;
}

/** e.g. `success v3 at 15:02Z`, `failed v3 at 15:02Z`, `pending`, `none`; `-` when SSM could not be asked. */
function agentCell(agent: AgentStatus | null, now: Date): string {
  if (!agent) return '-';
  const label = agent.state === 'unknown' ? (agent.ssmStatus ?? 'unknown').toLowerCase() : agent.state;
  const version = agent.documentVersion && /^\d+$/.test(agent.documentVersion) ? ` v${agent.documentVersion}` : '';
  return `${label}${version}${agent.at ? ` at ${clock(agent.at, now)}` : ''}`;
}

/**
 * One line per failed agent, under the table: the reason is too long for a cell, and the command that
 * shows SSM's whole record (and its output URL) is what to run next.
 */
function agentFailures(r: StatusReport): string {
  return r.boxes
    .filter((b) => b.agent?.state === 'failed')
    .map((b) => `${b.instanceId}: ${r.agentAssociation} failed${b.agent!.reason ? `: ${b.agent!.reason}` : ''}. ` +
      `Details: aws ssm describe-instance-associations-status --instance-id ${b.instanceId} --region ${r.region}\n`)
    .join('');
}

/** e.g. `vol-0abc 500 GiB`, `vol-0abc 500 GiB (attaching)`, `none`; `-` when EC2 could not be asked. */
function dataVolumeCell(volume: DataVolumeStatus | null): string {
  if (!volume) return '-';
  if (volume.state === 'none') return 'none';
  const size = volume.sizeGiB === null ? '' : ` ${volume.sizeGiB} GiB`;
  return `${volume.volumeId ?? '?'}${size}${volume.state === 'attached' ? '' : ` (${volume.state})`}`;
}

function renderStatus(r: StatusReport, now: Date): string {
  if (r.boxes.length === 0) {
    return `No box named ${r.name} in ${r.region}. Deployed elsewhere? Pass --region, or set "region" in the config.\n`;
  }
  // The data volume's column only where the config has one.
  const withVolume = <T>(before: T[], volume: T, after: T[]): T[] => (r.dataVolumes ? [...before, volume, ...after] : [...before, ...after]);
  const table = renderTable(
    withVolume(['Instance', 'State', 'Market', 'Type', 'AZ', 'Public IP', 'Uptime', 'Agent', 'Idle check'], 'Data volume', ['Spot $/h', 'Cost $/h']),
    r.boxes.map((b) => withVolume([
      b.instanceId, b.state, b.market, b.instanceType,
      b.availabilityZoneId ? `${b.availabilityZone} (${b.availabilityZoneId})` : b.availabilityZone ?? '-',
      b.publicIp ?? '-', uptime(b.uptimeMinutes), agentCell(b.agent, now),
      b.idle ? `${b.idle.verdict} at ${b.idle.at.slice(11, 16)}Z` : '-',
    ], dataVolumeCell(b.dataVolume), [b.spotPricePerHour === null ? '-' : usd(b.spotPricePerHour), usd(b.costPerHour)])),
  );
  const running = r.boxes.filter((b) => b.state === 'running').length;
  const next = running > 0 ? 'Connect: trainium-spot ssh' : 'Start: trainium-spot start';
  return `${boxScope(r.name, r.region, r.deployment)}: ${plural(r.boxes.length, 'box', 'boxes')}, ${running} running\n${table}${agentFailures(r)}` +
    `Running boxes cost ${usd(r.costPerHour)}/h (storage extra). ${next}\n`;
}

export const statusCommand: CommandSpec = {
  name: 'status',
  summary: 'Every box of the stack: state, market, IP, uptime, agent health, idle verdict, cost per hour',
  usage: ['status [--region REGION] [--deployment ID]'],
  flags: FLAGS,
  examples: ['trainium-spot status', 'trainium-spot status --output json | jq -r .boxes[0].publicIp'],
  notes:
    'Boxes are found by their tags (Name = the configured name, ManagedBy=trainium-spot) in the\n' +
    'configured region, so status needs no Terraform state.\n\n' +
    DEPLOYMENT_NOTE +
    'Agent: the SSM State Manager association <name>-agent on the box, which installs its software:\n' +
    '"success v3 at 15:02Z" (document version 3 ran then), "failed v3 at 15:02Z" (SSM\'s reason is\n' +
    'printed under the table), "pending", or "none" (SSM has no status for the box: it has not\n' +
    'registered with SSM yet).\n' +
    `Idle check: the latest value of the on-box check's CloudWatch metric ${IDLE_METRIC.name} in the box's own\n` +
    `namespace, ${verdictNamespace('<instance ARN>')}, in the last hour ("-" when there is none). Data volume (with\n` +
    `dataVolume in the config): the EBS volume attached to the box at ${DATA_VOLUME.deviceName} and its size, or "none".\n` +
    'Cost: the current spot price for spot boxes, else the catalog on-demand price (US East); stopped\n' +
    'boxes cost only storage.\n\n' +
    'Only finding the boxes (ec2:DescribeInstances) must succeed. When another call fails (denied,\n' +
    'throttled, an AWS error), its column shows "-", one warning line per kind of call on stderr says\n' +
    'why, and --output json lists it under failedCalls.\n\n' +
    'Exit codes: 0 boxes listed, 1 no box found, 2 error.',
  run,
};
