/** `regions`: where an instance type is offered, by region and AZ ID; `--live` asks EC2 too. */
import { regionsOffering } from '../../catalog';
import { Flags, FlagSpecs } from '../args';
import { ec2Client, sdk } from '../aws';
import { CommandContext, CommandSpec, emit } from '../command';
import { EXIT_OK } from '../errors';
import { renderTable } from '../format';
import { RegionOffering, RegionsReport, SCHEMA_VERSION } from '../report';
import { loadCliConfig } from '../config';

const FLAGS: FlagSpecs = {
  'instance-type': { type: 'string', placeholder: 'TYPE', description: 'Instance type from the catalog (default: the configured instanceType)' },
  live: { type: 'boolean', description: 'Also ask EC2 (DescribeInstanceTypeOfferings) and compare' },
  regions: { type: 'string', placeholder: 'R1,R2', description: 'Regions to show (default: the regions the catalog lists)' },
  region: { type: 'string', placeholder: 'REGION', description: 'One region; same as --regions REGION' },
};

/** AZ IDs of a region that offer the type, from EC2 (DescribeInstanceTypeOfferings), sorted. */
export async function liveAzIds(ctx: CommandContext, region: string, instanceType: string): Promise<string[]> {
  const client = ec2Client(region);
  const { paginateDescribeInstanceTypeOfferings } = sdk.ec2();
  const azIds: string[] = [];
  await ctx.aws.call('ec2:DescribeInstanceTypeOfferings', region, async () => {
    const input = {
      LocationType: 'availability-zone-id' as const,
      Filters: [{ Name: 'instance-type', Values: [instanceType] }],
    };
    for await (const page of paginateDescribeInstanceTypeOfferings({ client }, input)) {
      azIds.push(...(page.InstanceTypeOfferings ?? []).map((o) => o.Location ?? '').filter(Boolean));
    }
  });
  return azIds.sort();
}

const sameIds = (a: readonly string[], b: readonly string[]): boolean => [...a].sort().join() === [...b].sort().join();

async function run(flags: Flags, ctx: CommandContext): Promise<number> {
  const type = flags.catalogInstanceType('instance-type', loadCliConfig(ctx.io.env, ctx.io.cwd).config.instanceType);
  const live = flags.boolean('live');
  const regions = flags.regions() ?? regionsOffering(type.name);
  const offerings: RegionOffering[] = await Promise.all(
    regions.map(async (region) => {
      const catalogAzIds = type.facts.offeredIn[region] ?? [];
      const fromEc2 = live ? await liveAzIds(ctx, region, type.name) : null;
      return {
        region,
        catalogAzIds,
        liveAzIds: fromEc2,
        matchesCatalog: fromEc2 === null ? null : sameIds(fromEc2, catalogAzIds),
      };
    }),
  );
  const report: RegionsReport = {
    schemaVersion: SCHEMA_VERSION,
    command: 'regions',
    instanceType: type.name,
    live,
    regions: offerings,
  };
  emit(ctx, report, renderRegions);
  return EXIT_OK;
}

function renderRegions(r: RegionsReport): string {
  const ids = (list: readonly string[] | null) => (list === null ? '-' : list.length > 0 ? list.join(', ') : 'none');
  const headers = r.live ? ['Region', 'AZ IDs (catalog)', 'AZ IDs (EC2)', 'Match'] : ['Region', 'AZ IDs'];
  const rows = r.regions.map((o) =>
    r.live ? [o.region, ids(o.catalogAzIds), ids(o.liveAzIds), o.matchesCatalog ? 'yes' : 'NO'] : [o.region, ids(o.catalogAzIds)],
  );
  const differs = r.regions.filter((o) => o.matchesCatalog === false).map((o) => o.region);
  return (
    `${r.instanceType} is offered in:\n` +
    renderTable(headers, rows) +
    (differs.length > 0 ? `EC2 and the catalog disagree in ${differs.join(', ')}; the catalog (src/catalog.ts) may need an update.\n` : '')
  );
}

export const regionsCommand: CommandSpec = {
  name: 'regions',
  summary: 'Where an instance type is offered, by region and AZ ID',
  usage: ['regions [--instance-type TYPE] [--live] [--regions R1,R2]'],
  flags: FLAGS,
  examples: [
    'trainium-spot regions',
    'trainium-spot regions --instance-type trn2.48xlarge',
    'trainium-spot regions --live --regions us-east-1,us-east-2',
  ],
  notes:
    'Without --live the answer comes from the catalog and needs no AWS credentials.\n\n' +
    'Exit codes: 0 listed, 2 error.',
  run,
};
