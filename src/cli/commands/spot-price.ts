/**
 * `spot-price`: the current and last-24-hours spot price per Availability Zone, named by AZ name and
 * AZ ID (names are shuffled per account, IDs are not), against the catalog's on-demand price.
 */
import type { _InstanceType, SpotPrice } from '@aws-sdk/client-ec2';
import { PRICE_SOURCE, regionsOffering } from '../../catalog';
import { Flags, FlagSpecs } from '../args';
import { ec2Client, sdk } from '../aws';
import { CommandContext, CommandSpec, emit } from '../command';
import { EXIT_OK } from '../errors';
import { isoOrDash, renderTable, roundTo, usd } from '../format';
import { SCHEMA_VERSION, SpotPriceReport, SpotZonePrice } from '../report';
import { loadCliConfig } from '../config';

const PRODUCT_DESCRIPTION = 'Linux/UNIX';
const WINDOW_MS = 24 * 3_600_000;

const FLAGS: FlagSpecs = {
  'instance-type': { type: 'string', placeholder: 'TYPE', description: 'Instance type from the catalog (default: the configured instanceType)' },
  regions: { type: 'string', placeholder: 'R1,R2', description: 'Regions to ask (default: every region the catalog lists for the type)' },
  region: { type: 'string', placeholder: 'REGION', description: 'One region; same as --regions REGION' },
};

export interface Window {
  readonly start: Date;
  readonly end: Date;
}

/** The window `spot-price` reports on: the last 24 hours up to now. */
export function lastDay(): Window {
  const end = new Date();
  return { start: new Date(end.getTime() - WINDOW_MS), end };
}

/** Spot prices per AZ of one region, and the region's AZ IDs by AZ name. */
export async function zonePrices(
  ctx: CommandContext,
  region: string,
  instanceType: string,
  window: Window,
  onDemandPerHour: number,
): Promise<{ zones: SpotZonePrice[]; zoneIds: Map<string, string> }> {
  const client = ec2Client(region);
  const { DescribeAvailabilityZonesCommand, paginateDescribeSpotPriceHistory } = sdk.ec2();
  const history: SpotPrice[] = [];
  const [zones] = await Promise.all([
    ctx.aws.call('ec2:DescribeAvailabilityZones', region, () => client.send(new DescribeAvailabilityZonesCommand({}))),
    ctx.aws.call('ec2:DescribeSpotPriceHistory', region, async () => {
      const input = {
        InstanceTypes: [instanceType as _InstanceType],
        ProductDescriptions: [PRODUCT_DESCRIPTION],
        StartTime: window.start,
        EndTime: window.end,
      };
      for await (const page of paginateDescribeSpotPriceHistory({ client }, input)) history.push(...(page.SpotPriceHistory ?? []));
    }),
  ]);
  const zoneIds = new Map((zones.AvailabilityZones ?? []).map((z) => [z.ZoneName ?? '', z.ZoneId ?? '']));

  const byZone = new Map<string, { price: number; at: Date | undefined }[]>();
  for (const record of history) {
    const price = Number(record.SpotPrice);
    if (!record.AvailabilityZone || !Number.isFinite(price)) continue;
    byZone.set(record.AvailabilityZone, [...(byZone.get(record.AvailabilityZone) ?? []), { price, at: record.Timestamp }]);
  }
  const priced = [...byZone.entries()].map(([zone, samples]) => {
    // The answer includes the last change before the window: that price was in effect in it too.
    const latest = samples.reduce((a, b) => ((b.at?.getTime() ?? 0) > (a.at?.getTime() ?? 0) ? b : a));
    const prices = samples.map((s) => s.price);
    return {
      region,
      availabilityZone: zone,
      availabilityZoneId: zoneIds.get(zone) || null,
      pricePerHour: latest.price,
      since: latest.at?.toISOString() ?? null,
      minPricePerHour24h: Math.min(...prices),
      maxPricePerHour24h: Math.max(...prices),
      savingPercent: roundTo((1 - latest.price / onDemandPerHour) * 100, 1),
    };
  });
  return { zones: priced, zoneIds };
}

async function run(flags: Flags, ctx: CommandContext): Promise<number> {
  const type = flags.catalogInstanceType('instance-type', loadCliConfig(ctx.io.env, ctx.io.cwd).config.instanceType);
  const regions = flags.regions() ?? regionsOffering(type.name);
  const window = lastDay();
  const perRegion = await Promise.all(
    regions.map((region) => zonePrices(ctx, region, type.name, window, type.facts.onDemandPricePerHour)),
  );
  const zones = perRegion
    .flatMap((r) => r.zones)
    .sort((a, b) => a.pricePerHour - b.pricePerHour || a.availabilityZone.localeCompare(b.availabilityZone));
  const report: SpotPriceReport = {
    schemaVersion: SCHEMA_VERSION,
    command: 'spot-price',
    instanceType: type.name,
    regions,
    productDescription: PRODUCT_DESCRIPTION,
    window: { start: window.start.toISOString(), end: window.end.toISOString() },
    onDemand: { pricePerHour: type.facts.onDemandPricePerHour, source: PRICE_SOURCE },
    zones,
    cheapest: zones[0] ?? null,
  };
  emit(ctx, report, renderSpotPrices);
  return EXIT_OK;
}

function renderSpotPrices(r: SpotPriceReport): string {
  const onDemand = `On-demand: ${usd(r.onDemand.pricePerHour)}/h (${r.onDemand.source})\n`;
  if (!r.cheapest) {
    return `No ${r.productDescription} spot prices for ${r.instanceType} in ${r.regions.join(', ')} in the last 24 hours.\n${onDemand}`;
  }
  const c = r.cheapest;
  return (
    `${r.instanceType} spot prices (${r.productDescription}), last 24 hours, cheapest first:\n` +
    renderTable(
      ['Region', 'AZ', 'AZ ID', 'Now $/h', 'Since', '24h min', '24h max', 'Saving'],
      r.zones.map((z) => [
        z.region, z.availabilityZone, z.availabilityZoneId ?? '-', usd(z.pricePerHour), isoOrDash(z.since),
        usd(z.minPricePerHour24h), usd(z.maxPricePerHour24h), `${z.savingPercent}%`,
      ]),
    ) +
    onDemand +
    `Cheapest: ${c.availabilityZoneId ?? c.availabilityZone} (${c.availabilityZone}) at ${usd(c.pricePerHour)}/h, ` +
    `${c.savingPercent}% below on-demand\n`
  );
}

export const spotPriceCommand: CommandSpec = {
  name: 'spot-price',
  summary: 'Current and last-24-hours spot prices per AZ, and the saving against on-demand',
  usage: ['spot-price [--instance-type TYPE] [--regions R1,R2]'],
  flags: FLAGS,
  examples: [
    'trainium-spot spot-price',
    'trainium-spot spot-price --instance-type trn1.32xlarge --regions us-east-1,us-west-2',
    'trainium-spot spot-price --output json | jq .cheapest.availabilityZoneId',
  ],
  notes:
    'Pin the stack to an AZ ID (availabilityZoneId), not an AZ name: names differ between accounts.\n' +
    'The saving compares with the catalog on-demand price, which is the US East (N. Virginia) price.\n\n' +
    'Exit codes: 0 listed (even when empty), 2 error.',
  run,
};
