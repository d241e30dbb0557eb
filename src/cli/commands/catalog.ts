/**
 * `catalog`: the facts src/catalog.ts holds, which the stack and every command use (instance types,
 * the types not supported yet, image presets); with `--live`, every difference from what AWS says
 * today: the Neuron DLAMI parameters (SSM GetParametersByPath) and where EC2 offers the types
 * (DescribeInstanceTypeOfferings by AZ ID), in each region. Beside the drift, which exits 1, it lists what is known and
 * not drift: the superseded DLAMI parameters AWS still publishes (SUPERSEDED_DLAMI_PARAMETERS) and the DLAMI parameters
 * of Ubuntu releases other than the catalog's, outside it by choice (isPresetCandidateParameter says why).
 */
import {
  DEFAULT_IMAGE,
  DLAMI_OPERATING_SYSTEM,
  dlamiParameterParts,
  IMAGE_ALIASES,
  IMAGE_PRESETS,
  INSTANCE_TYPES,
  isPresetCandidateParameter,
  NEURON_DLAMI_PARAMETER_PATH,
  PENDING_INSTANCE_TYPES,
  PRICE_SOURCE,
  QUOTAS,
  SUPERSEDED_DLAMI_PARAMETERS,
} from '../../catalog';
import { Flags, FlagSpecs } from '../args';
import { ec2Client, sdk, ssmClient } from '../aws';
import { CommandContext, CommandSpec, emit } from '../command';
import { EXIT_DRIFT, EXIT_OK } from '../errors';
import { plural, renderTable, usd } from '../format';
import { CatalogDrift, CatalogLive, CatalogOtherUbuntuRelease, CatalogPreset, CatalogReport, CatalogSupersededParameter, SCHEMA_VERSION } from '../report';

const FLAGS: FlagSpecs = {
  live: { type: 'boolean', description: 'Compare with AWS today: the Neuron DLAMI parameters and where EC2 offers each type, by AZ ID' },
  regions: { type: 'string', placeholder: 'R1,R2', description: 'With --live: regions to compare (default: every region the catalog lists)' },
  region: { type: 'string', placeholder: 'REGION', description: 'With --live: one region; same as --regions REGION' },
};

/** The types whose offerings `--live` compares: the catalogued ones, then those not supported yet. */
const COMPARED_TYPES: readonly string[] = [...Object.keys(INSTANCE_TYPES), ...Object.keys(PENDING_INSTANCE_TYPES)];

/** Every region the catalog lists for any type, sorted: where `--live` compares by default. */
function catalogRegions(): string[] {
  return [...new Set(Object.values(INSTANCE_TYPES).flatMap((facts) => Object.keys(facts.offeredIn)))].sort();
}

// ---------------------------------------------------------------------------------------------
// The catalog as it is
// ---------------------------------------------------------------------------------------------

function presetRows(): CatalogPreset[] {
  return Object.entries(IMAGE_PRESETS).map(([name, preset]) => ({
    name,
    purpose: preset.purpose,
    ssmParameter: preset.ssmParameter ?? null,
    amiNamePrefix: preset.amiNamePrefix,
    families: preset.families,
    retiredFamilies: Object.entries(preset.retiredFamilies ?? {}).map(([family, retired]) => ({ family, ...retired })),
    environments: preset.environments.map((e) => ({ path: e.path, holds: e.holds })),
    neuronSdk: preset.neuronSdk,
    notYetCatalogued: preset.notYetCatalogued ?? null,
    source: preset.source,
  }));
}

function catalogAsIs(): Omit<CatalogReport, 'live'> {
  return {
    schemaVersion: SCHEMA_VERSION,
    command: 'catalog',
    instanceTypes: Object.entries(INSTANCE_TYPES).map(([name, facts]) => ({
      name,
      family: facts.family,
      vcpus: facts.vcpus,
      memoryGiB: facts.memoryGiB,
      accelerators: facts.accelerators,
      spotQuotaCode: QUOTAS[facts.family].spot.code,
      onDemandQuotaCode: QUOTAS[facts.family]['on-demand'].code,
      onDemandPricePerHour: facts.onDemandPricePerHour,
      capacityBlocks: facts.capacityBlocks,
      offeredIn: facts.offeredIn,
    })),
    pendingInstanceTypes: Object.entries(PENDING_INSTANCE_TYPES).map(([name, pending]) => ({
      name,
      family: pending.family,
      spotQuotaCode: QUOTAS[pending.family].spot.code,
      onDemandQuotaCode: QUOTAS[pending.family]['on-demand'].code,
      unverified: pending.unverified,
      source: pending.source,
    })),
    imagePresets: presetRows(),
    imageAliases: IMAGE_ALIASES,
  };
}

// ---------------------------------------------------------------------------------------------
// What AWS says today
// ---------------------------------------------------------------------------------------------

/** Every parameter under the DLAMI path in the region, name -> value (an AMI id). */
async function dlamiParameters(ctx: CommandContext, region: string): Promise<Map<string, string>> {
  const client = ssmClient(region);
  const { paginateGetParametersByPath } = sdk.ssm();
  const parameters = new Map<string, string>();
  await ctx.aws.call('ssm:GetParametersByPath', region, async () => {
    const input = { Path: NEURON_DLAMI_PARAMETER_PATH, Recursive: true };
    for await (const page of paginateGetParametersByPath({ client, pageSize: 10 }, input)) {
      for (const p of page.Parameters ?? []) if (p.Name) parameters.set(p.Name, p.Value ?? '');
    }
  });
  return parameters;
}

/** Type -> AZ IDs that offer it in the region, for the types asked about. */
async function offerings(ctx: CommandContext, region: string, types: readonly string[]): Promise<Map<string, Set<string>>> {
  const client = ec2Client(region);
  const { paginateDescribeInstanceTypeOfferings } = sdk.ec2();
  const offered = new Map<string, Set<string>>();
  await ctx.aws.call('ec2:DescribeInstanceTypeOfferings', region, async () => {
    const input = { LocationType: 'availability-zone-id' as const, Filters: [{ Name: 'instance-type', Values: [...types] }] };
    for await (const page of paginateDescribeInstanceTypeOfferings({ client }, input)) {
      for (const o of page.InstanceTypeOfferings ?? []) {
        if (o.InstanceType && o.Location) offered.set(o.InstanceType, (offered.get(o.InstanceType) ?? new Set()).add(o.Location));
      }
    }
  });
  return offered;
}

const NO_DETAIL = { preset: null, parameter: null, amiId: null, instanceType: null, availabilityZoneId: null } as const;

const SUPERSEDED = new Map(SUPERSEDED_DLAMI_PARAMETERS.map((p) => [p.ssmParameter, p]));

function parameterDrift(region: string, listed: ReadonlyMap<string, string>): CatalogDrift[] {
  const used = new Set<string | undefined>([...Object.values(IMAGE_PRESETS).map((p) => p.ssmParameter), ...SUPERSEDED.keys()]);
  const gone = Object.entries(IMAGE_PRESETS).flatMap(([preset, { ssmParameter }]) =>
    ssmParameter === undefined || listed.has(ssmParameter) ? [] : [{
      ...NO_DETAIL, kind: 'parameter-gone' as const, region, preset, parameter: ssmParameter,
      message: `preset ${preset}: its parameter ${ssmParameter} does not exist in ${region}, so terraform plan fails there`,
    }]);
  const unused = [...listed].filter(([name]) => isPresetCandidateParameter(name) && !used.has(name)).sort(([a], [b]) => a.localeCompare(b));
  const fresh = unused.map(([parameter, amiId]) => ({
    ...NO_DETAIL, kind: 'parameter-new' as const, region, parameter, amiId: amiId || null,
    message: `${parameter} (${amiId || 'no value'}) in ${region} is used by no preset and is not a known superseded one: a new DLAMI`,
  }));
  return [...gone, ...fresh];
}

function supersededStillPublished(region: string, listed: ReadonlyMap<string, string>): CatalogSupersededParameter[] {
  return SUPERSEDED_DLAMI_PARAMETERS.flatMap(({ ssmParameter, lastListedIn, supersededBy }) => (listed.has(ssmParameter) ? [{
    region, parameter: ssmParameter, amiId: listed.get(ssmParameter) || null, lastListedIn, supersededBy,
  }] : []));
}

const isOtherUbuntuRelease = (os: string): boolean => os.startsWith('ubuntu-') && os !== DLAMI_OPERATING_SYSTEM;

function otherUbuntuReleases(region: string, listed: ReadonlyMap<string, string>): CatalogOtherUbuntuRelease[] {
  const byRelease = new Map<string, Map<string, string>>();
  const catalogFrameworks = new Set<string>();
  for (const name of [...listed.keys()].sort()) {
    const parts = dlamiParameterParts(name);
    if (parts?.operatingSystem === DLAMI_OPERATING_SYSTEM) catalogFrameworks.add(parts.framework);
    if (parts && isOtherUbuntuRelease(parts.operatingSystem)) {
      byRelease.set(parts.operatingSystem, (byRelease.get(parts.operatingSystem) ?? new Map()).set(name, parts.framework));
    }
  }
  return [...byRelease].sort(([a], [b]) => a.localeCompare(b)).map(([operatingSystem, frameworkOf]) => ({
    region,
    operatingSystem,
    parameters: [...frameworkOf.keys()],
    frameworks: [...frameworkOf.values()],
    frameworksOnlyHere: [...frameworkOf.values()].filter((framework) => !catalogFrameworks.has(framework)),
  }));
}

function offeringDrift(region: string, offered: ReadonlyMap<string, ReadonlySet<string>>): CatalogDrift[] {
  const catalogued = (type: string): readonly string[] => INSTANCE_TYPES[type]?.offeredIn[region] ?? [];
  return COMPARED_TYPES.flatMap((instanceType) => {
    const live = [...(offered.get(instanceType) ?? [])].sort();
    const pending = Object.prototype.hasOwnProperty.call(PENDING_INSTANCE_TYPES, instanceType) ? ' (a type not supported yet: its facts are unverified)' : '';
    const added = live.filter((az) => !catalogued(instanceType).includes(az)).map((availabilityZoneId) => ({
      ...NO_DETAIL, kind: 'az-new' as const, region, instanceType, availabilityZoneId,
      message: `${instanceType} is offered in ${availabilityZoneId} (${region}), which the catalog does not list${pending}`,
    }));
    const gone = catalogued(instanceType).filter((az) => !live.includes(az)).map((availabilityZoneId) => ({
      ...NO_DETAIL, kind: 'az-gone' as const, region, instanceType, availabilityZoneId,
      message: `${instanceType} is no longer offered in ${availabilityZoneId} (${region}), which the catalog lists`,
    }));
    return [...added, ...gone];
  });
}

async function compareWithAws(ctx: CommandContext, regions: readonly string[]): Promise<CatalogLive> {
  const perRegion = await Promise.all(regions.map(async (region) => {
    const [listed, offered] = await Promise.all([dlamiParameters(ctx, region), offerings(ctx, region, COMPARED_TYPES)]);
    return {
      counts: { region, listed: listed.size, inScope: [...listed.keys()].filter(isPresetCandidateParameter).length },
      drift: [...parameterDrift(region, listed), ...offeringDrift(region, offered)],
      superseded: supersededStillPublished(region, listed),
      otherUbuntuReleases: otherUbuntuReleases(region, listed),
    };
  }));
  return {
    regions,
    parameterPath: NEURON_DLAMI_PARAMETER_PATH,
    parameters: perRegion.map((r) => r.counts),
    instanceTypes: COMPARED_TYPES,
    drift: perRegion.flatMap((r) => r.drift),
    superseded: perRegion.flatMap((r) => r.superseded),
    otherUbuntuReleases: perRegion.flatMap((r) => r.otherUbuntuReleases),
  };
}

async function run(flags: Flags, ctx: CommandContext): Promise<number> {
  const live = flags.boolean('live');
  if (!live) flags.reject(['regions', 'region'], 'without --live: only the comparison with AWS asks regions');
  const report: CatalogReport = { ...catalogAsIs(), live: live ? await compareWithAws(ctx, flags.regions() ?? catalogRegions()) : null };
  emit(ctx, report, renderCatalog);
  return report.live !== null && report.live.drift.length > 0 ? EXIT_DRIFT : EXIT_OK;
}

// ---------------------------------------------------------------------------------------------
// Text
// ---------------------------------------------------------------------------------------------

function renderTypes(r: CatalogReport): string {
  const rows = r.instanceTypes.flatMap((t) => {
    const regions = Object.entries(t.offeredIn).map(([region, azIds]) => `${region}: ${azIds.join(', ')}`);
    const first = [t.name, t.vcpus, `${t.spotQuotaCode} / ${t.onDemandQuotaCode}`, usd(t.onDemandPricePerHour), t.capacityBlocks ? 'yes' : 'no', regions[0] ?? 'none'];
    return [first, ...regions.slice(1).map((region) => ['', '', '', '', '', region])];
  });
  const pending = r.pendingInstanceTypes.map((p) =>
    `  ${p.name}: quotas ${p.spotQuotaCode} / ${p.onDemandQuotaCode}; unverified: ${p.unverified}\n`).join('');
  return `Instance types (quotas count the default vCPUs; ${PRICE_SOURCE}):\n` +
    renderTable(['Type', 'vCPUs', 'Spot / on-demand quota', 'On-demand', 'Capacity Blocks', 'AZ IDs by region'], rows) +
    (pending ? `Not supported yet (facts unverified; catalog --live shows where EC2 offers them):\n${pending}` : '');
}

function renderPresets(r: CatalogReport): string {
  const rows = r.imagePresets.map((p) => [
    p.name, p.families.join(', '), p.neuronSdk,
    p.ssmParameter ?? `newest AMI named "${p.amiNamePrefix} *"`,
  ]);
  const aliases = Object.entries(r.imageAliases).map(([alias, byFamily]) => {
    const byPreset = new Map<string, string[]>();
    Object.entries(byFamily).forEach(([family, preset]) => byPreset.set(preset, [...(byPreset.get(preset) ?? []), family]));
    return `  ${alias}${alias === DEFAULT_IMAGE ? ' (the default)' : ''}: ${[...byPreset].map(([preset, families]) => `${preset} on ${families.join(', ')}`).join('; ')}\n`;
  });
  const retired = r.imagePresets.flatMap((p) => p.retiredFamilies.map((f) =>
    `  ${p.name} no longer on ${f.family} since Neuron ${f.sinceNeuron} (${f.reason}); use ${f.use}\n`));
  const newer = r.imagePresets.flatMap((p) => (p.notYetCatalogued === null ? [] : [`  ${p.name}: not catalogued yet: ${p.notYetCatalogued}\n`]));
  return 'Image presets (Ubuntu 24.04 Neuron DLAMIs; sources: trainium-spot catalog --output json):\n' +
    renderTable(['Preset', 'Families', 'Neuron SDK', 'Found by'], rows) +
    [...aliases, ...retired, ...newer].join('');
}

/** Each value once, in the order first seen. */
const distinct = (values: readonly string[]): string[] => [...new Set(values)];

/**
 * What is known and not drift, one line each, over every region compared (`--output json` gives them per region):
 * the superseded parameters still published, and each other Ubuntu release with the frameworks only it has.
 */
function renderKnown(live: CatalogLive): string {
  const superseded = distinct(live.superseded.map((s) => s.parameter));
  const supersededLine = superseded.length === 0 ? [] : [
    `  ${plural(superseded.length, 'superseded parameter')} still published (known, not drift; catalog --output json lists them)\n`];
  const releaseLines = distinct(live.otherUbuntuReleases.map((r) => r.operatingSystem)).map((os) => {
    const inRelease = live.otherUbuntuReleases.filter((r) => r.operatingSystem === os);
    const onlyHere = distinct(inRelease.flatMap((r) => r.frameworksOnlyHere));
    const only = onlyHere.length === 0 ? '' : `; only for ${os}: ${onlyHere.join(', ')}`;
    return `  ${os}: ${plural(distinct(inRelease.flatMap((r) => r.parameters)).length, 'DLAMI parameter')}, outside the catalog by choice${only}\n`;
  });
  return [...supersededLine, ...releaseLines].join('');
}

function renderLive(live: CatalogLive): string {
  const listed = live.parameters.map((p) => `${p.region} ${p.listed} (${p.inScope} the newest image of an Ubuntu 24.04 DLAMI)`);
  const head = `Compared with AWS in ${live.regions.join(', ')}:\n` +
    `  SSM parameters under ${live.parameterPath}: ${listed.join(', ')}\n` +
    renderKnown(live) +
    `  EC2 offerings by AZ ID of ${live.instanceTypes.join(', ')}\n`;
  if (live.drift.length === 0) return `${head}No drift: the catalog matches AWS.\n`;
  const inspect = live.drift.some((d) => d.kind === 'parameter-new')
    ? 'See the image of a new parameter with: trainium-spot image --image ssm:<parameter> --region <region>\n' : '';
  return head + renderTable(['Drift', 'Region', 'What'], live.drift.map((d) => [d.kind, d.region, d.message])) + inspect +
    `${plural(live.drift.length, 'difference')}: update src/catalog.ts (each fact with its source and date), then run catalog --live again.\n`;
}

function renderCatalog(r: CatalogReport): string {
  return [renderTypes(r), renderPresets(r), ...(r.live ? [renderLive(r.live)] : [])].join('\n');
}

export const catalogCommand: CommandSpec = {
  name: 'catalog',
  summary: 'The catalog of types and image presets; --live: how it differs from AWS today',
  usage: ['catalog [--live [--regions R1,R2]]'],
  flags: FLAGS,
  examples: [
    'trainium-spot catalog',
    'trainium-spot catalog --live',
    'trainium-spot catalog --live --regions us-east-2 --output json',
  ],
  notes:
    'Without --live it needs no AWS credentials. --live lists the public parameters under\n' +
    `${NEURON_DLAMI_PARAMETER_PATH} (ssm:GetParametersByPath) and the offerings of every catalogued and\n` +
    'pending type by AZ ID (ec2:DescribeInstanceTypeOfferings) in each region, and prints every difference:\n' +
    'a preset whose parameter is gone, an Ubuntu 24.04 DLAMI parameter that no preset uses and that the catalog\n' +
    'does not know as superseded (a new DLAMI), a type offered in an AZ the catalog lacks or no longer offered\n' +
    'where it says. Not drift, listed beside it: the known superseded parameters still published, and the DLAMI\n' +
    'parameters of other Ubuntu releases (outside the catalog by choice), naming the frameworks only they have.\n\n' +
    'Exit codes: 0 listed, or no drift; 1 drift; 2 error.',
  run,
};
