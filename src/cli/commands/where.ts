/**
 * `where`: every region and AZ ID that offers the instance type, with what decides whether spot
 * boxes start there: EC2's Spot placement score for all of them in that one AZ, the current and
 * 24-hour spot price, the spot and on-demand quota headroom of the region, and Capacity Blocks on
 * sale. Best first, ending with the config keys that pin the stack to the best AZ.
 */
import type { _InstanceType } from '@aws-sdk/client-ec2';
import { InstanceTypeFacts, QuotaMarket, QUOTAS, regionsOffering } from '../../catalog';
import { Flags, FlagSpecs } from '../args';
import { ec2Client, sdk } from '../aws';
import { CommandContext, CommandSpec, emit } from '../command';
import { EXIT_OK } from '../errors';
import { isoOrDash, renderTable, usd } from '../format';
import { CapacityBlockOffer, QuotaRoom, SCHEMA_VERSION, WhereReport, WhereZone } from '../report';
import { blockOfferingsIn, clusterCapacity, DEFAULT_OFFERING_HOURS, renderClusterCapacity } from './capacity';
import { loadCliConfig } from '../config';
import { quotaHeadroom, QuotaHeadroom } from './quota';
import { liveAzIds } from './regions';
import { lastDay, Window, zonePrices } from './spot-price';

const FLAGS: FlagSpecs = {
  'instance-type': { type: 'string', placeholder: 'TYPE', description: 'Instance type from the catalog (default: the configured instanceType)' },
  count: { type: 'string', placeholder: 'N', description: 'How many boxes must start together (default: the configured instanceCount)' },
  regions: { type: 'string', placeholder: 'R1,R2', description: 'Regions to ask (default: every region the catalog lists for the type)' },
  region: { type: 'string', placeholder: 'REGION', description: 'One region; same as --regions REGION' },
  cluster: { type: 'boolean', description: "The cluster's nodes: cluster.instanceType and cluster.nodes are the defaults; a capacity-block cluster's reservation" },
};

/** The IAM actions `where` calls, for its help. */
const ACTIONS = [
  'ec2:GetSpotPlacementScores', 'ec2:DescribeInstanceTypeOfferings', 'ec2:DescribeAvailabilityZones',
  'ec2:DescribeSpotPriceHistory', 'ec2:DescribeInstances', 'servicequotas:GetServiceQuota',
  'servicequotas:GetAWSDefaultServiceQuota', 'ec2:DescribeCapacityBlockOfferings (types with Capacity Blocks)',
];

interface Target {
  readonly instanceType: string;
  readonly facts: InstanceTypeFacts;
  readonly instanceCount: number;
  readonly vcpusNeeded: number;
}

// ---------------------------------------------------------------------------------------------
// Looking up
// ---------------------------------------------------------------------------------------------

const zoneKey = (region: string, azId: string) => `${region}/${azId}`;

/**
 * Single-AZ placement scores for all the boxes at once (target capacity in vCPUs), in every region
 * asked for. One call answers for all regions; it is made from the first.
 */
async function placementScores(ctx: CommandContext, regions: readonly string[], target: Target): Promise<Map<string, number>> {
  const from = regions[0];
  const client = ec2Client(from);
  const scores = new Map<string, number>();
  await ctx.aws.call('ec2:GetSpotPlacementScores', from, async () => {
    const input = {
      InstanceTypes: [target.instanceType],
      TargetCapacity: target.vcpusNeeded,
      TargetCapacityUnitType: 'vcpu' as const,
      SingleAvailabilityZone: true,
      RegionNames: [...regions],
    };
    const { paginateGetSpotPlacementScores } = sdk.ec2();
    for await (const page of paginateGetSpotPlacementScores({ client, pageSize: 1000 }, input)) {
      for (const s of page.SpotPlacementScores ?? []) {
        if (s.Region && s.AvailabilityZoneId && typeof s.Score === 'number') scores.set(zoneKey(s.Region, s.AvailabilityZoneId), s.Score);
      }
    }
  });
  return scores;
}

const room = (headroom: QuotaHeadroom): QuotaRoom => ({
  code: headroom.quota.code,
  name: headroom.quota.name,
  valueVcpus: headroom.quota.valueVcpus,
  inUseVcpus: headroom.inUseVcpus,
  freeVcpus: headroom.assessment.freeVcpus,
  fits: headroom.assessment.fits,
});

/** The AZs of one region that offer the type, unranked; `null` when none does. */
async function zonesIn(
  ctx: CommandContext,
  region: string,
  target: Target,
  window: Window,
  scores: Map<string, number>,
): Promise<Omit<WhereZone, 'rank'>[] | null> {
  const azIds = await liveAzIds(ctx, region, target.instanceType);
  if (azIds.length === 0) return null;
  const quotaIn = (market: QuotaMarket) => quotaHeadroom(ctx, {
    region, instanceType: target.instanceType, facts: target.facts, market, quota: QUOTAS[target.facts.family][market],
  }, target.instanceCount);
  const [prices, spot, onDemand, blocks] = await Promise.all([
    zonePrices(ctx, region, target.instanceType, window, target.facts.onDemandPricePerHour),
    quotaIn('spot'),
    quotaIn('on-demand'),
    target.facts.capacityBlocks
      ? blockOfferingsIn(ctx, region, target.instanceType, target.instanceCount, DEFAULT_OFFERING_HOURS)
      : Promise.resolve(null),
  ]);
  const nameOf = (azId: string) => [...prices.zoneIds].find(([, id]) => id === azId)?.[0] ?? null;
  const blocksIn = (azId: string, offers: CapacityBlockOffer[]) => {
    const here = offers.filter((o) => o.availabilityZone !== null && prices.zoneIds.get(o.availabilityZone) === azId);
    const starts = here.map((o) => o.startDate).filter((d): d is string => d !== null).sort();
    return { offerings: here.length, earliestStart: starts[0] ?? null };
  };
  return azIds.map((azId) => {
    const price = prices.zones.find((z) => z.availabilityZoneId === azId);
    return {
      region,
      availabilityZoneId: azId,
      availabilityZone: nameOf(azId),
      placementScore: scores.get(zoneKey(region, azId)) ?? null,
      spotPrice: price
        ? { nowPerHour: price.pricePerHour, since: price.since, minPerHour24h: price.minPricePerHour24h, maxPerHour24h: price.maxPricePerHour24h }
        : null,
      spotQuota: room(spot),
      onDemandQuota: room(onDemand),
      capacityBlocks: blocks === null ? null : blocksIn(azId, blocks),
    };
  });
}

/** Best first: the spot quota holds the boxes, then the higher placement score, then the lower price. */
export function byBestFirst(a: Omit<WhereZone, 'rank'>, b: Omit<WhereZone, 'rank'>): number {
  return (
    Number(b.spotQuota.fits) - Number(a.spotQuota.fits) ||
    (b.placementScore ?? 0) - (a.placementScore ?? 0) ||
    (a.spotPrice?.nowPerHour ?? Infinity) - (b.spotPrice?.nowPerHour ?? Infinity) ||
    a.region.localeCompare(b.region) ||
    a.availabilityZoneId.localeCompare(b.availabilityZoneId)
  );
}

// ---------------------------------------------------------------------------------------------
// The command
// ---------------------------------------------------------------------------------------------

async function run(flags: Flags, ctx: CommandContext): Promise<number> {
  const { config } = loadCliConfig(ctx.io.env, ctx.io.cwd);
  // A capacity-block cluster launches where its block is: that is the answer, asked in the configured region.
  const cluster = flags.boolean('cluster') ? await clusterCapacity(ctx, config, 'where', flags.region() ?? config.region) : null;
  const type = flags.catalogInstanceType('instance-type', cluster?.instanceType ?? config.instanceType);
  const instanceCount = flags.wholeNumber('count') ?? cluster?.nodes ?? config.instanceCount;
  const regions = flags.regions() ?? regionsOffering(type.name);
  const target: Target = { instanceType: type.name, facts: type.facts, instanceCount, vcpusNeeded: instanceCount * type.facts.vcpus };
  const window = lastDay();

  const scores = await placementScores(ctx, regions, target);
  const perRegion = await Promise.all(regions.map((region) => zonesIn(ctx, region, target, window, scores)));
  const zones = perRegion
    .flatMap((found) => found ?? [])
    .sort(byBestFirst)
    .map((zone, i) => ({ rank: i + 1, ...zone }));
  const best = zones[0];
  const report: WhereReport = {
    schemaVersion: SCHEMA_VERSION,
    command: 'where',
    instanceType: type.name,
    instanceCount,
    vcpusNeeded: target.vcpusNeeded,
    regions,
    regionsWithoutType: regions.filter((_, i) => perRegion[i] === null),
    capacityBlockHours: type.facts.capacityBlocks ? DEFAULT_OFFERING_HOURS : null,
    zones,
    config: best ? { region: best.region, availabilityZoneId: best.availabilityZoneId } : null,
    cluster,
  };
  emit(ctx, report, renderWhere);
  return EXIT_OK;
}

const quotaCell = (q: QuotaRoom): string => `${q.freeVcpus} of ${q.valueVcpus}${q.fits ? '' : ' (too few)'}`;

function renderWhere(r: WhereReport): string {
  const cluster = r.cluster ? renderClusterCapacity(r.cluster, r.regions.join(', ')) : '';
  return cluster + (r.cluster?.capacityReservationId ? '(The ranking below is for the other markets.)\n' : '') + renderZones(r);
}

function renderZones(r: WhereReport): string {
  const what = `${r.instanceCount}x ${r.instanceType} (${r.vcpusNeeded} vCPUs)`;
  const missing = r.regionsWithoutType.length > 0 ? `Not offered in: ${r.regionsWithoutType.join(', ')}\n` : '';
  if (r.zones.length === 0) return `No AZ in ${r.regions.join(', ')} offers ${r.instanceType}.\n${missing}`;
  const headers = ['Rank', 'Region', 'AZ ID', 'AZ', 'Score', 'Spot $/h', '24h min', '24h max', 'Spot quota free', 'On-demand free'];
  if (r.capacityBlockHours !== null) headers.push(`Blocks (${r.capacityBlockHours}h)`);
  const rows = r.zones.map((z) => {
    const row = [
      z.rank, z.region, z.availabilityZoneId, z.availabilityZone ?? '-', z.placementScore ?? '-',
      z.spotPrice ? usd(z.spotPrice.nowPerHour) : '-', z.spotPrice ? usd(z.spotPrice.minPerHour24h) : '-',
      z.spotPrice ? usd(z.spotPrice.maxPerHour24h) : '-', quotaCell(z.spotQuota), quotaCell(z.onDemandQuota),
    ];
    if (z.capacityBlocks) row.push(z.capacityBlocks.offerings > 0 ? `${z.capacityBlocks.offerings} from ${isoOrDash(z.capacityBlocks.earliestStart)}` : 'none');
    return row;
  });
  const best = r.zones[0];
  const quotaAdvice = best.spotQuota.fits
    ? ''
    : `The spot quota in ${best.region} does not hold ${what}: see trainium-spot quota --region ${best.region} --count ${r.instanceCount}\n`;
  return (
    `Where ${what} can start on spot, best first (score: EC2 Spot placement score, 1-10, all boxes in one AZ):\n` +
    renderTable(headers, rows) +
    missing +
    quotaAdvice +
    'To launch in the best AZ, set in cdktf.json context.trainiumSpot or your TRAINIUM_SPOT_CONFIG file:\n' +
    `  "region": "${best.region}",\n` +
    `  "availabilityZoneId": "${best.availabilityZoneId}"\n`
  );
}

export const whereCommand: CommandSpec = {
  name: 'where',
  summary: 'Every region and AZ ID that offers the type, ranked by spot placement score, price and quota',
  usage: ['where [--instance-type TYPE] [--count N] [--regions R1,R2]', 'where --cluster [--regions R1,R2]'],
  flags: FLAGS,
  examples: [
    'trainium-spot where',
    'trainium-spot where --instance-type trn1.32xlarge --count 2 --regions us-east-1,us-east-2,us-west-2',
    'trainium-spot where --output json | jq .config',
    'trainium-spot where --cluster',
  ],
  notes:
    'Ranking: AZs whose region has spot quota for all the boxes first, then the higher Spot placement score\n' +
    '(GetSpotPlacementScores, single AZ, target capacity = the vCPUs of all the boxes), then the lower current\n' +
    'spot price. A score is a likelihood at the time of asking, not a promise; AWS scores only its top 10\n' +
    'AZs (the rest show -), and a request for one instance type always scores low, so compare the scores\n' +
    'with each other. Quotas are per region and\n' +
    'count default vCPUs, as `quota` does. Capacity Blocks are listed for the types that have them.\n\n' +
    '--cluster ranks for the cluster\'s nodes (cluster.instanceType, cluster.nodes, all in one AZ as its\n' +
    'placement group needs). With cluster.market capacity-block the nodes launch where the block is: the first\n' +
    'line names it (cluster.capacityReservationId in the configured region) and whether it holds the nodes.\n\n' +
    `Needs: ${ACTIONS.join(', ')}.\n\n` +
    'Exit codes: 0 listed (even when no AZ offers the type), 2 error.',
  run,
};
