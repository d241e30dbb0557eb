/**
 * `capacity`: the account's Capacity Blocks for ML and On-Demand Capacity Reservations (ODCRs),
 * across regions, and (`--offerings`) the Capacity Blocks on sale.
 *
 * Both kinds are Capacity Reservations: DescribeCapacityReservations returns them together and
 * tells them apart by ReservationType (`capacity-block` or `default`), so one paginated call per
 * region serves both lists. (DescribeCapacityBlocks exists too, but describes blocks without their
 * instance type and counts.)
 */
import type { _InstanceType, CapacityBlockOffering, CapacityReservation } from '@aws-sdk/client-ec2';
import { INSTANCE_TYPE_NAMES, instanceFacts } from '../../catalog';
import { Flags, FlagSpecs } from '../args';
import { type Config } from '../../config';
import { MARKET_FACTS } from '../../markets';
import { ec2Client, resolveRegion, sdk } from '../aws';
import { requireCluster } from '../cluster';
import { loadCliConfig } from '../config';
import { CommandContext, CommandSpec, emit } from '../command';
import { EXIT_OK, UsageError } from '../errors';
import { isoOrDash, plural, renderTable, roundTo } from '../format';
import {
  CapacityBlockOffer,
  CapacityOfferingsReport,
  CapacityReport,
  CapacitySection,
  CapacitySummary,
  ClusterCapacity,
  Reservation,
  SCHEMA_VERSION,
} from '../report';

const FLAGS: FlagSpecs = {
  blocks: { type: 'boolean', description: 'Capacity Blocks for ML only' },
  odcr: { type: 'boolean', description: 'On-Demand Capacity Reservations only' },
  'instance-types': { type: 'string', placeholder: 'T1,T2', description: 'Only these instance types' },
  regions: { type: 'string', placeholder: 'R1,R2', description: 'Regions to ask (default: the configured region)' },
  region: { type: 'string', placeholder: 'REGION', description: 'One region; same as --regions REGION' },
  'available-only': { type: 'boolean', description: 'Only reservations with instances still free' },
  'min-capacity': { type: 'string', placeholder: 'N', description: 'Only reservations with at least N instances free' },
  'active-only': { type: 'boolean', description: 'Only active reservations, and blocks scheduled to start' },
  offerings: { type: 'boolean', description: 'List Capacity Block offerings on sale instead' },
  'instance-type': { type: 'string', placeholder: 'TYPE', description: 'With --offerings: the instance type (required)' },
  count: { type: 'string', placeholder: 'N', description: 'With --offerings: instances in the block (default: 1)' },
  'duration-hours': { type: 'string', placeholder: 'H', description: 'With --offerings: block length in hours (default: 24)' },
  cluster: { type: 'boolean', description: "The cluster's nodes: cluster.instanceType (and cluster.nodes with --offerings); a capacity-block cluster's reservation" },
};

const LIST_ONLY_FLAGS = ['blocks', 'odcr', 'instance-types', 'available-only', 'min-capacity', 'active-only'];
const OFFERINGS_ONLY_FLAGS = ['instance-type', 'count', 'duration-hours'];
export const DEFAULT_OFFERING_HOURS = 24;
/** `--active-only`: usable now, or (Capacity Blocks) paid for and starting later. */
const ACTIVE_STATES = new Set(['active', 'scheduled']);

const iso = (date: Date | undefined): string | null => date?.toISOString() ?? null;
const hoursBetween = (start: Date | undefined, end: Date | undefined): number | null =>
  start && end ? roundTo((end.getTime() - start.getTime()) / 3_600_000, 1) : null;

async function regionsToAsk(flags: Flags, ctx: CommandContext): Promise<string[]> {
  return flags.regions() ?? [await resolveRegion(undefined, ctx.io.env)];
}

// ---------------------------------------------------------------------------------------------
// Reservations
// ---------------------------------------------------------------------------------------------

function toReservation(region: string, cr: CapacityReservation): Reservation {
  const total = cr.TotalInstanceCount ?? 0;
  const available = cr.AvailableInstanceCount ?? 0;
  return {
    id: cr.CapacityReservationId ?? '',
    kind: cr.ReservationType === 'capacity-block' ? 'capacity-block' : 'odcr',
    capacityBlockId: cr.CapacityBlockId ?? null,
    region,
    availabilityZone: cr.AvailabilityZone ?? null,
    availabilityZoneId: cr.AvailabilityZoneId ?? null,
    instanceType: cr.InstanceType ?? '',
    platform: cr.InstancePlatform ?? null,
    state: cr.State ?? 'unknown',
    totalInstances: total,
    availableInstances: available,
    usedInstances: total - available,
    startDate: iso(cr.StartDate),
    endDate: iso(cr.EndDate),
    durationHours: hoursBetween(cr.StartDate, cr.EndDate),
  };
}

/** The reservations of a region, of `instanceTypes` when given, or only those with the ids `ids`. */
async function reservationsIn(ctx: CommandContext, region: string, instanceTypes: string[] | undefined, ids?: string[]): Promise<Reservation[]> {
  const client = ec2Client(region);
  const { paginateDescribeCapacityReservations } = sdk.ec2();
  const filters = instanceTypes ? [{ Name: 'instance-type', Values: instanceTypes }] : undefined;
  const found: Reservation[] = [];
  await ctx.aws.call('ec2:DescribeCapacityReservations', region, async () => {
    for await (const page of paginateDescribeCapacityReservations({ client }, { Filters: filters, CapacityReservationIds: ids })) {
      found.push(...(page.CapacityReservations ?? []).map((cr) => toReservation(region, cr)));
    }
  });
  return found;
}

export function summarize(reservations: readonly Reservation[]): CapacitySummary {
  const totalInstances = reservations.reduce((sum, r) => sum + r.totalInstances, 0);
  const availableInstances = reservations.reduce((sum, r) => sum + r.availableInstances, 0);
  const durations = reservations.map((r) => r.durationHours).filter((h): h is number => h !== null);
  return {
    reservations: reservations.length,
    instanceTypes: [...new Set(reservations.map((r) => r.instanceType))].sort(),
    totalInstances,
    availableInstances,
    freePercent: totalInstances > 0 ? roundTo((availableInstances / totalInstances) * 100, 1) : null,
    durationHours: durations.length > 0 ? { min: Math.min(...durations), max: Math.max(...durations) } : null,
  };
}

const section = (reservations: Reservation[]): CapacitySection => ({ summary: summarize(reservations), reservations });

/**
 * The cluster a `--cluster` run answers for: its node type and count, and for a capacity-block market the
 * Capacity Block it launches into, and whether that holds all the nodes.
 */
export async function clusterCapacity(ctx: CommandContext, config: Config, command: string, region: string): Promise<ClusterCapacity> {
  const cluster = requireCluster(config, command);
  const id = MARKET_FACTS[cluster.market].needsReservation ? cluster.capacityReservationId ?? null : null;
  const reservation = id === null ? null : (await reservationsIn(ctx, region, undefined, [id]))[0] ?? null;
  return {
    name: config.name,
    instanceType: cluster.instanceType,
    nodes: cluster.nodes,
    market: cluster.market,
    capacityReservationId: id,
    reservation,
    reservationHoldsNodes: id === null ? null
      : reservation !== null && ACTIVE_STATES.has(reservation.state) && reservation.instanceType === cluster.instanceType &&
        reservation.totalInstances >= cluster.nodes,
  };
}

/** One line on the cluster's reservation, for `capacity --cluster` and `where --cluster`. */
export function renderClusterCapacity(c: ClusterCapacity, region: string): string {
  const head = `Cluster ${c.name}: up to ${plural(c.nodes, `${c.instanceType} node`)}, market ${c.market}`;
  if (c.capacityReservationId === null) return `${head}.\n`;
  if (c.reservation === null) return `${head}: its Capacity Block ${c.capacityReservationId} is not in ${region}.\n`;
  const r = c.reservation;
  const where = `${r.availabilityZone ?? '-'} (${r.availabilityZoneId ?? '-'})`;
  return `${head}: the nodes launch in Capacity Block ${r.id}, ${r.state}, ${plural(r.totalInstances, `${r.instanceType} instance`)} ` +
    `in ${where}, ${isoOrDash(r.startDate)} to ${isoOrDash(r.endDate)}; ` +
    `${c.reservationHoldsNodes ? 'it holds all the nodes' : `it does NOT hold ${c.nodes} ${c.instanceType} nodes (active or scheduled, the type, enough instances)`}.\n`;
}

async function listReservations(flags: Flags, ctx: CommandContext): Promise<number> {
  if (flags.boolean('cluster')) flags.reject(['instance-types', 'regions'], 'with --cluster, which asks the cluster\'s region for its node type');
  const cluster = flags.boolean('cluster')
    ? await clusterCapacity(ctx, loadCliConfig(ctx.io.env, ctx.io.cwd).config, 'capacity', await resolveRegion(flags.region(), ctx.io.env))
    : null;
  const instanceTypes = cluster ? [cluster.instanceType] : flags.instanceTypes('instance-types');
  const availableOnly = flags.boolean('available-only');
  const minCapacity = flags.wholeNumber('min-capacity', 0) ?? null;
  const activeOnly = flags.boolean('active-only');
  const onlyBlocks = flags.boolean('blocks') && !flags.boolean('odcr');
  const onlyOdcrs = flags.boolean('odcr') && !flags.boolean('blocks');
  const regions = await regionsToAsk(flags, ctx);

  const perRegion = await Promise.all(regions.map((region) =>
    cluster?.capacityReservationId ? (cluster.reservation ? [cluster.reservation] : []) : reservationsIn(ctx, region, instanceTypes)));
  const kept = perRegion
    .flat()
    .filter((r) => !availableOnly || r.availableInstances > 0)
    .filter((r) => minCapacity === null || r.availableInstances >= minCapacity)
    .filter((r) => !activeOnly || ACTIVE_STATES.has(r.state))
    .sort((a, b) => a.region.localeCompare(b.region) || a.instanceType.localeCompare(b.instanceType) || a.id.localeCompare(b.id));

  const report: CapacityReport = {
    schemaVersion: SCHEMA_VERSION,
    command: 'capacity',
    regions,
    filters: { instanceTypes: instanceTypes ?? null, availableOnly, minCapacity, activeOnly },
    cluster,
    capacityBlocks: onlyOdcrs ? null : section(kept.filter((r) => r.kind === 'capacity-block')),
    odcrs: onlyBlocks ? null : section(kept.filter((r) => r.kind === 'odcr')),
  };
  emit(ctx, report, renderCapacity);
  return EXIT_OK;
}

const typesLine = (s: CapacitySummary): string =>
  `${s.instanceTypes.length}${s.instanceTypes.length > 0 ? ` (${s.instanceTypes.join(', ')})` : ''}`;

const freeLine = (s: CapacitySummary): string =>
  `${plural(s.availableInstances, 'instance')}${s.freePercent !== null ? ` (${s.freePercent}% free)` : ''}`;

function renderBlocks(blocks: CapacitySection, where: string): string {
  const s = blocks.summary;
  if (s.reservations === 0) return `Capacity Blocks for ML: none in ${where}.\n`;
  const span = (low: number, high: number) => (low === high ? `${low}` : `${low}-${high}`);
  const range = s.durationHours
    ? `${span(s.durationHours.min, s.durationHours.max)} hours ` +
      `(${span(roundTo(s.durationHours.min / 24, 1), roundTo(s.durationHours.max / 24, 1))} days)`
    : '-';
  return (
    'Capacity Block summary:\n' +
    `   Total blocks: ${s.reservations}\n` +
    `   Instance types: ${typesLine(s)}\n` +
    `   Duration range: ${range}\n` +
    `   Total capacity: ${plural(s.totalInstances, 'instance')}\n` +
    `   Available: ${freeLine(s)}\n\n` +
    renderTable(
      ['Instance Type', 'Count', 'Region', 'AZ', 'AZ ID', 'Start', 'End', 'Duration', 'State', 'Reservation'],
      blocks.reservations.map((r) => [
        r.instanceType, r.totalInstances, r.region, r.availabilityZone ?? '-', r.availabilityZoneId ?? '-',
        isoOrDash(r.startDate), isoOrDash(r.endDate), r.durationHours === null ? '-' : `${r.durationHours}h`, r.state, r.id,
      ]),
    )
  );
}

function renderOdcrs(odcrs: CapacitySection, where: string): string {
  const s = odcrs.summary;
  if (s.reservations === 0) return `On-Demand Capacity Reservations: none in ${where}.\n`;
  return (
    'Capacity Reservation summary (ODCRs):\n' +
    `   Total reservations: ${s.reservations}\n` +
    `   Instance types: ${typesLine(s)}\n` +
    `   Total capacity: ${plural(s.totalInstances, 'instance')}\n` +
    `   Available: ${freeLine(s)}\n\n` +
    renderTable(
      ['Instance Type', 'Region', 'AZ', 'AZ ID', 'Total', 'Available', 'Used', 'State', 'End', 'Reservation'],
      odcrs.reservations.map((r) => [
        r.instanceType, r.region, r.availabilityZone ?? '-', r.availabilityZoneId ?? '-', r.totalInstances,
        r.availableInstances, r.usedInstances, r.state, r.endDate ? isoOrDash(r.endDate) : 'no end date', r.id,
      ]),
    )
  );
}

function renderCapacity(r: CapacityReport): string {
  const where = r.regions.join(', ');
  const parts: string[] = r.cluster ? [renderClusterCapacity(r.cluster, where)] : [];
  if (r.capacityBlocks) parts.push(renderBlocks(r.capacityBlocks, where));
  if (r.odcrs) parts.push(renderOdcrs(r.odcrs, where));
  return parts.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Offerings
// ---------------------------------------------------------------------------------------------

function toOffer(region: string, o: CapacityBlockOffering): CapacityBlockOffer {
  const fee = o.UpfrontFee === undefined ? NaN : Number(o.UpfrontFee);
  return {
    offeringId: o.CapacityBlockOfferingId ?? '',
    region,
    availabilityZone: o.AvailabilityZone ?? null,
    instanceType: o.InstanceType ?? '',
    instanceCount: o.InstanceCount ?? 0,
    startDate: iso(o.StartDate),
    endDate: iso(o.EndDate),
    durationHours: o.CapacityBlockDurationHours ?? null,
    upfrontFee: Number.isFinite(fee) ? fee : null,
    currency: o.CurrencyCode ?? null,
  };
}

/** Capacity Blocks for sale in one region. */
export async function blockOfferingsIn(
  ctx: CommandContext,
  region: string,
  instanceType: string,
  instanceCount: number,
  durationHours: number,
): Promise<CapacityBlockOffer[]> {
  const client = ec2Client(region);
  const { paginateDescribeCapacityBlockOfferings } = sdk.ec2();
  const offers: CapacityBlockOffer[] = [];
  const input = { InstanceType: instanceType as _InstanceType, InstanceCount: instanceCount, CapacityDurationHours: durationHours };
  await ctx.aws.call('ec2:DescribeCapacityBlockOfferings', region, async () => {
    for await (const page of paginateDescribeCapacityBlockOfferings({ client }, input)) {
      offers.push(...(page.CapacityBlockOfferings ?? []).map((o) => toOffer(region, o)));
    }
  });
  return offers;
}

async function listOfferings(flags: Flags, ctx: CommandContext): Promise<number> {
  const cluster = flags.boolean('cluster') ? requireCluster(loadCliConfig(ctx.io.env, ctx.io.cwd).config, 'capacity') : undefined;
  const instanceType = flags.instanceType('instance-type') ?? cluster?.instanceType;
  if (!instanceType) throw new UsageError('capacity', '--offerings needs --instance-type TYPE, e.g. trn1.32xlarge');
  const facts = instanceFacts(instanceType);
  if (facts && !facts.capacityBlocks) {
    const sold = INSTANCE_TYPE_NAMES.filter((name) => instanceFacts(name)?.capacityBlocks);
    throw flags.invalid('instance-type', instanceType, `a type sold as Capacity Blocks, e.g. ${sold.join(', ')}`);
  }
  const instanceCount = flags.wholeNumber('count') ?? cluster?.nodes ?? 1;
  const durationHours = flags.wholeNumber('duration-hours') ?? DEFAULT_OFFERING_HOURS;
  const regions = await regionsToAsk(flags, ctx);

  const perRegion = await Promise.all(
    regions.map((region) => blockOfferingsIn(ctx, region, instanceType, instanceCount, durationHours)),
  );
  const report: CapacityOfferingsReport = {
    schemaVersion: SCHEMA_VERSION,
    command: 'capacity-offerings',
    instanceType,
    instanceCount,
    durationHours,
    regions,
    offerings: perRegion.flat().sort((a, b) => (a.startDate ?? '').localeCompare(b.startDate ?? '') || a.region.localeCompare(b.region)),
  };
  emit(ctx, report, renderOfferings);
  return EXIT_OK;
}

function renderOfferings(r: CapacityOfferingsReport): string {
  const what = `${r.instanceCount}x ${r.instanceType} for ${r.durationHours} hours in ${r.regions.join(', ')}`;
  if (r.offerings.length === 0) return `No Capacity Block offerings for ${what}.\n`;
  return (
    `Capacity Block offerings for ${what}:\n` +
    renderTable(
      ['Start', 'End', 'Hours', 'Region', 'AZ', 'Instances', 'Upfront fee', 'Offering'],
      r.offerings.map((o) => [
        isoOrDash(o.startDate), isoOrDash(o.endDate), o.durationHours ?? '-', o.region, o.availabilityZone ?? '-',
        o.instanceCount, o.upfrontFee === null ? '-' : `${o.upfrontFee.toFixed(2)} ${o.currency ?? ''}`.trim(), o.offeringId,
      ]),
    ) +
    'Buy one with: aws ec2 purchase-capacity-block --capacity-block-offering-id ID --instance-platform Linux/UNIX --region REGION\n'
  );
}

// ---------------------------------------------------------------------------------------------
// The command
// ---------------------------------------------------------------------------------------------

async function run(flags: Flags, ctx: CommandContext): Promise<number> {
  if (flags.boolean('offerings')) {
    flags.reject(LIST_ONLY_FLAGS, 'with --offerings');
    return listOfferings(flags, ctx);
  }
  flags.reject(OFFERINGS_ONLY_FLAGS, 'without --offerings');
  return listReservations(flags, ctx);
}

export const capacityCommand: CommandSpec = {
  name: 'capacity',
  summary: 'List your Capacity Blocks and On-Demand Capacity Reservations, or blocks on sale',
  usage: [
    'capacity [--blocks|--odcr] [--instance-types T1,T2] [--regions R1,R2] [--available-only] [--min-capacity N] [--active-only]',
    'capacity --offerings --instance-type TYPE [--count N] [--duration-hours H] [--regions R1,R2]',
    'capacity --cluster [--region REGION] [--available-only] [--active-only]   (or with --offerings)',
  ],
  flags: FLAGS,
  examples: [
    'trainium-spot capacity',
    'trainium-spot capacity --blocks --instance-types trn1.32xlarge --regions us-east-1,us-east-2 --active-only',
    'trainium-spot capacity --odcr --available-only --min-capacity 2',
    'trainium-spot capacity --offerings --instance-type trn1.32xlarge --count 2 --duration-hours 48',
    'trainium-spot capacity --blocks --output json > capacity-blocks.json',
    'trainium-spot capacity --cluster',
  ],
  notes:
    'Capacity Blocks for ML: fixed dates, bought ahead, for training runs. ODCRs: no end date, created and\n' +
    'cancelled at will, billed at the On-Demand rate whether used or not.\n' +
    'Without --blocks or --odcr both are listed.\n\n' +
    '--cluster answers for the cluster\'s nodes (the `cluster` key): the reservations of cluster.instanceType in\n' +
    'the configured region; with cluster.market capacity-block only its Capacity Block (cluster.capacityReservationId),\n' +
    'and whether it holds cluster.nodes instances (active or scheduled, of the type); with --offerings, blocks on\n' +
    'sale for cluster.nodes of cluster.instanceType.\n\n' +
    'Exit codes: 0 listed (even when empty), 2 error.',
  run,
};
