/**
 * `quota`: does the next instance fit in the account's vCPU quota?
 * Also files an increase request (`--request N`) and follows it (`--status`).
 */
import type { _InstanceType, EC2Client, Instance } from '@aws-sdk/client-ec2';
import type { RequestedServiceQuotaChange, ServiceQuota, ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import {
  EC2_SERVICE_CODE,
  INSTANCE_TYPE_NAMES,
  INSTANCE_TYPES,
  instanceFacts,
  InstanceTypeFacts,
  QuotaFamily,
  QuotaMarket,
  QuotaRef,
  QUOTAS,
  quotaIncreaseCommand,
  regionsOffering,
} from '../../catalog';
import { Flags, FlagSpecs } from '../args';
import { type Config, usesSpot } from '../../config';
import { MARKET_FACTS } from '../../markets';
import { ec2Client, quotasClient, sdk } from '../aws';
import { commandTarget } from '../config';
import { CommandContext, CommandSpec, emit } from '../command';
import { AwsCallError, CliError, EXIT_DOES_NOT_FIT, EXIT_OK, UsageError } from '../errors';
import { isoOrDash, plural, renderFields, renderTable } from '../format';
import {
  IncreaseAdvice,
  QuotaReport,
  QuotaRequestReport,
  QuotaRequestRow,
  QuotaStatusReport,
  QuotaValue,
  SCHEMA_VERSION,
  UsedInstance,
} from '../report';

/** The schema's default type; commands default to the configured one. */
const QUOTA_MARKETS = ['spot', 'on-demand'] as const satisfies readonly QuotaMarket[];
const RUNNING_STATES = ['pending', 'running'];

const FLAGS: FlagSpecs = {
  'instance-type': { type: 'string', placeholder: 'TYPE', description: 'Instance type from the catalog (default: the configured instanceType)' },
  region: { type: 'string', placeholder: 'REGION', description: 'AWS region (default: the configured region)' },
  market: { type: 'string', placeholder: 'spot|on-demand', description: 'Which quota to check (default: the one the configured market draws on)' },
  count: { type: 'string', placeholder: 'N', description: 'How many more instances must fit (default: the configured instanceCount)' },
  cluster: { type: 'boolean', description: "The cluster's compute nodes: cluster.instanceType, cluster.market and cluster.nodes are the defaults" },
  request: { type: 'string', placeholder: 'VCPUS', description: 'File an increase request: the new quota value, in vCPUs' },
  status: { type: 'boolean', description: 'List the increase requests for the quota and their status' },
};

// ---------------------------------------------------------------------------------------------
// Arithmetic
// ---------------------------------------------------------------------------------------------

export interface QuotaInputs {
  readonly quotaVcpus: number;
  readonly inUseVcpus: number;
  readonly vcpusPerInstance: number;
  readonly instancesWanted: number;
}

export interface QuotaAssessment {
  readonly neededVcpus: number;
  readonly freeVcpus: number;
  readonly additionalInstancesThatFit: number;
  readonly fits: boolean;
  /** In use plus needed, rounded up to a multiple of the instance's vCPUs: what to ask for. */
  readonly desiredVcpus: number;
}

export function assessQuota(inputs: QuotaInputs): QuotaAssessment {
  const { quotaVcpus, inUseVcpus, vcpusPerInstance, instancesWanted } = inputs;
  const neededVcpus = vcpusPerInstance * instancesWanted;
  const freeVcpus = Math.max(0, quotaVcpus - inUseVcpus);
  return {
    neededVcpus,
    freeVcpus,
    additionalInstancesThatFit: Math.floor(freeVcpus / vcpusPerInstance),
    fits: freeVcpus >= neededVcpus,
    desiredVcpus: Math.ceil((inUseVcpus + neededVcpus) / vcpusPerInstance) * vcpusPerInstance,
  };
}

// ---------------------------------------------------------------------------------------------
// Quota look-ups
// ---------------------------------------------------------------------------------------------

export interface QuotaTarget {
  readonly region: string;
  readonly instanceType: string;
  readonly facts: InstanceTypeFacts;
  readonly market: QuotaMarket;
  readonly quota: QuotaRef;
}

const isMissingQuota = (error: unknown): boolean =>
  error instanceof AwsCallError &&
  (error.code === 'NoSuchResourceException' || /quota does not exist/i.test(error.message));

function notOfferedError(target: QuotaTarget): CliError {
  return new CliError(
    `${target.instanceType} is not offered in ${target.region}: Service Quotas has no "${target.quota.name}" ` +
      `(${target.quota.code}) there; regions that offer ${target.instanceType}: ${regionsOffering(target.instanceType).join(', ')}`,
  );
}

function quotaValue(quota: ServiceQuota | undefined, ref: QuotaRef, source: QuotaValue['source']): QuotaValue {
  if (typeof quota?.Value !== 'number') {
    throw new CliError(`Service Quotas returned no value for "${ref.name}" (${ref.code})`);
  }
  return { serviceCode: EC2_SERVICE_CODE, code: ref.code, name: quota.QuotaName ?? ref.name, valueVcpus: quota.Value, source };
}

/** The applied value, else AWS's default when the account has none applied. */
async function fetchQuota(ctx: CommandContext, client: ServiceQuotasClient, target: QuotaTarget): Promise<QuotaValue> {
  const { GetAWSDefaultServiceQuotaCommand, GetServiceQuotaCommand } = sdk.quotas();
  const input = { ServiceCode: EC2_SERVICE_CODE, QuotaCode: target.quota.code };
  try {
    const applied = await ctx.aws.call('servicequotas:GetServiceQuota', target.region, () =>
      client.send(new GetServiceQuotaCommand(input)),
    );
    return quotaValue(applied.Quota, target.quota, 'applied');
  } catch (error) {
    if (!isMissingQuota(error)) throw error;
  }
  try {
    const fallback = await ctx.aws.call('servicequotas:GetAWSDefaultServiceQuota', target.region, () =>
      client.send(new GetAWSDefaultServiceQuotaCommand(input)),
    );
    return quotaValue(fallback.Quota, target.quota, 'aws-default');
  } catch (error) {
    throw isMissingQuota(error) ? notOfferedError(target) : error;
  }
}

// ---------------------------------------------------------------------------------------------
// Usage
// ---------------------------------------------------------------------------------------------

/** `trn1n.32xlarge` -> `trn`: the letters before the generation, which name the instance class. */
export const instanceClass = (instanceType: string): string => /^[a-z]+/.exec(instanceType)?.[0] ?? '';

/** Classes of the catalogued types in a quota family, e.g. trn -> [trn]. Uncatalogued sizes of a class count too. */
function familyClasses(family: QuotaFamily): string[] {
  const classes = INSTANCE_TYPE_NAMES.filter((name) => INSTANCE_TYPES[name].family === family).map(instanceClass);
  return [...new Set(classes)];
}

/**
 * Which quota an instance draws on. Only spot instances use the spot quota; instances without a
 * lifecycle are On-Demand, and Capacity Block (`capacity-block`), Scheduled and interruptible
 * reservation instances run on On-Demand capacity, so they count against the On-Demand quota too
 * (as the catalog states: Capacity Blocks and reservations draw on the on-demand one).
 */
const marketOf = (instance: Instance): QuotaMarket => (instance.InstanceLifecycle === 'spot' ? 'spot' : 'on-demand');

/** Default vCPUs of types the catalog does not hold, from EC2. */
async function defaultVcpus(
  ctx: CommandContext,
  client: EC2Client,
  region: string,
  instanceTypes: readonly string[],
): Promise<Map<string, number>> {
  const vcpus = new Map<string, number>();
  if (instanceTypes.length === 0) return vcpus;
  await ctx.aws.call('ec2:DescribeInstanceTypes', region, async () => {
    const pages = sdk.ec2().paginateDescribeInstanceTypes({ client }, { InstanceTypes: instanceTypes as _InstanceType[] });
    for await (const page of pages) {
      for (const type of page.InstanceTypes ?? []) {
        if (type.InstanceType && type.VCpuInfo?.DefaultVCpus) vcpus.set(type.InstanceType, type.VCpuInfo.DefaultVCpus);
      }
    }
  });
  const missing = instanceTypes.filter((type) => !vcpus.has(type));
  if (missing.length > 0) throw new CliError(`EC2 did not report the default vCPUs of ${missing.join(', ')} in ${region}`);
  return vcpus;
}

/** Running and pending instances of the family in the market, each with its default vCPUs. */
async function instancesInUse(
  ctx: CommandContext,
  client: EC2Client,
  region: string,
  family: QuotaFamily,
  market: QuotaMarket,
): Promise<UsedInstance[]> {
  const classes = familyClasses(family);
  const found: Instance[] = [];
  await ctx.aws.call('ec2:DescribeInstances', region, async () => {
    const filters = [
      { Name: 'instance-state-name', Values: RUNNING_STATES },
      { Name: 'instance-type', Values: classes.map((c) => `${c}*`) },
    ];
    for await (const page of sdk.ec2().paginateDescribeInstances({ client }, { Filters: filters })) {
      for (const reservation of page.Reservations ?? []) found.push(...(reservation.Instances ?? []));
    }
  });
  const counted = found.filter(
    (i) => i.InstanceType !== undefined && classes.includes(instanceClass(i.InstanceType)) && marketOf(i) === market,
  );
  const types = [...new Set(counted.map((i) => i.InstanceType as string))];
  const uncatalogued = await defaultVcpus(ctx, client, region, types.filter((type) => !instanceFacts(type)));
  return counted.map((i) => {
    const type = i.InstanceType as string;
    return {
      instanceId: i.InstanceId ?? '',
      instanceType: type,
      lifecycle: i.InstanceLifecycle ?? 'on-demand',
      state: i.State?.Name ?? 'unknown',
      vcpus: instanceFacts(type)?.vcpus ?? (uncatalogued.get(type) as number),
    };
  });
}

// ---------------------------------------------------------------------------------------------
// quota: the check
// ---------------------------------------------------------------------------------------------

export const consolePath = (quota: QuotaRef): string =>
  `Service Quotas > AWS services > Amazon EC2 > ${quota.name}`;

export const consoleUrl = (quota: QuotaRef, region: string): string =>
  `https://${region}.console.aws.amazon.com/servicequotas/home/services/${EC2_SERVICE_CODE}/quotas/${quota.code}`;

export interface QuotaHeadroom {
  readonly quota: QuotaValue;
  readonly instances: UsedInstance[];
  readonly inUseVcpus: number;
  readonly assessment: QuotaAssessment;
}

/** The quota, what already uses it, and whether `instancesWanted` more fit: the whole check, without output. */
export async function quotaHeadroom(ctx: CommandContext, target: QuotaTarget, instancesWanted: number): Promise<QuotaHeadroom> {
  const { facts } = target;
  const [quota, instances] = await Promise.all([
    fetchQuota(ctx, quotasClient(target.region), target),
    instancesInUse(ctx, ec2Client(target.region), target.region, facts.family, target.market),
  ]);
  const inUseVcpus = instances.reduce((sum, i) => sum + i.vcpus, 0);
  const assessment = assessQuota({ quotaVcpus: quota.valueVcpus, inUseVcpus, vcpusPerInstance: facts.vcpus, instancesWanted });
  return { quota, instances, inUseVcpus, assessment };
}

async function checkQuota(ctx: CommandContext, target: QuotaTarget, instancesWanted: number): Promise<number> {
  const { quota, instances, inUseVcpus, assessment } = await quotaHeadroom(ctx, target, instancesWanted);
  const increase: IncreaseAdvice | null = assessment.fits
    ? null
    : {
        desiredVcpus: assessment.desiredVcpus,
        cliCommand: quotaIncreaseCommand(target.quota, assessment.desiredVcpus, target.region),
        consolePath: consolePath(target.quota),
        consoleUrl: consoleUrl(target.quota, target.region),
      };
  const report: QuotaReport = {
    schemaVersion: SCHEMA_VERSION,
    command: 'quota',
    region: target.region,
    instanceType: target.instanceType,
    market: target.market,
    quota,
    usage: { inUseVcpus, instances },
    vcpusPerInstance: target.facts.vcpus,
    instancesWanted,
    neededVcpus: assessment.neededVcpus,
    freeVcpus: assessment.freeVcpus,
    additionalInstancesThatFit: assessment.additionalInstancesThatFit,
    verdict: assessment.fits ? 'fits' : 'does-not-fit',
    catalogOffersTypeInRegion: regionsOffering(target.instanceType).includes(target.region),
    increase,
  };
  emit(ctx, report, renderQuota);
  return assessment.fits ? EXIT_OK : EXIT_DOES_NOT_FIT;
}

const byType = (instances: readonly UsedInstance[]): string =>
  Object.entries(
    instances.reduce<Record<string, number>>((counts, i) => ({ ...counts, [i.instanceType]: (counts[i.instanceType] ?? 0) + 1 }), {}),
  )
    .map(([type, count]) => `${count}x ${type}`)
    .join(', ');

/** Flags that repeat this check's target in a follow-up command. */
const targetFlags = (r: { instanceType: string; market: string; region: string }): string =>
  `--instance-type ${r.instanceType} --market ${r.market} --region ${r.region}`;

export function renderQuota(r: QuotaReport): string {
  const family = instanceFacts(r.instanceType)?.family ?? '';
  const quotaLine =
    `${r.quota.name} (${r.quota.code}): ${r.quota.valueVcpus} vCPUs` +
    (r.quota.source === 'aws-default' ? ' - the AWS default: no value has been applied to this account' : '');
  const used = r.usage.instances;
  const fields: [string, string][] = [
    ['Quota', quotaLine],
    [
      'In use',
      `${r.usage.inUseVcpus} vCPUs: ${plural(used.length, `running or pending ${r.market} ${family} instance`)}` +
        (used.length > 0 ? ` (${byType(used)})` : ''),
    ],
    ['Per instance', `${r.vcpusPerInstance} vCPUs`],
    ['Free', `${r.freeVcpus} vCPUs`],
    ['Room for', `${r.additionalInstancesThatFit} more ${r.instanceType}`],
  ];
  if (!r.catalogOffersTypeInRegion) {
    fields.push(['Note', `the catalog does not list ${r.instanceType} in ${r.region}; it lists ${regionsOffering(r.instanceType).join(', ')}`]);
  }
  const head = `${r.instanceType}, ${r.market} market, ${r.region}\n\n${renderFields(fields)}\n`;
  const wanted = `${plural(r.instancesWanted, `more ${r.instanceType} ${r.market} instance`)}`;
  const room = `${r.neededVcpus} vCPUs, and ${r.freeVcpus} of ${r.quota.valueVcpus} are free`;
  if (!r.increase) return `${head}FITS: ${wanted} ${r.instancesWanted === 1 ? 'needs' : 'need'} ${room}.\n`;
  return (
    `${head}DOES NOT FIT: ${wanted} ${r.instancesWanted === 1 ? 'needs' : 'need'} ${r.neededVcpus} vCPUs, ` +
    `but only ${r.freeVcpus} of ${r.quota.valueVcpus} are free.\n\n` +
    `Ask for ${r.increase.desiredVcpus} vCPUs (${r.usage.inUseVcpus} in use + ${r.neededVcpus} needed, ` +
    `in whole ${r.instanceType}):\n` +
    `  ${r.increase.cliCommand}\n` +
    `  or: trainium-spot quota --request ${r.increase.desiredVcpus} ${targetFlags(r)}\n` +
    `Console: ${r.increase.consolePath}\n` +
    `  ${r.increase.consoleUrl}\n` +
    `Follow the request with: trainium-spot quota --status ${targetFlags(r)}\n`
  );
}

// ---------------------------------------------------------------------------------------------
// quota --request / --status
// ---------------------------------------------------------------------------------------------

const requestRow = (change: RequestedServiceQuotaChange | undefined): QuotaRequestRow => ({
  id: change?.Id ?? '',
  status: change?.Status ?? 'UNKNOWN',
  desiredVcpus: change?.DesiredValue ?? null,
  caseId: change?.CaseId ?? null,
  created: change?.Created?.toISOString() ?? null,
  lastUpdated: change?.LastUpdated?.toISOString() ?? null,
});

/** What each request status means for the person waiting on it. */
export const STATUS_MEANINGS: Readonly<Record<string, string>> = {
  PENDING: 'under review by AWS',
  CASE_OPENED: 'AWS Support opened a case; answer it in the Support Center or by email',
  APPROVED: 'approved; the new value can take a few minutes to apply before you deploy',
  DENIED: 'denied; contact AWS Support with your use case, or ask for less',
  NOT_APPROVED: 'not approved; contact AWS Support with your use case, or ask for less',
  CASE_CLOSED: 'the support case is closed; check its outcome in the Support Center',
  INVALID_REQUEST: 'the request was invalid; file a new one',
};

async function requestIncrease(ctx: CommandContext, target: QuotaTarget, desiredVcpus: number): Promise<number> {
  const client = quotasClient(target.region);
  const quota = await fetchQuota(ctx, client, target);
  if (desiredVcpus <= quota.valueVcpus) {
    throw new UsageError(
      'quota',
      `--request ${desiredVcpus} would not raise "${quota.name}": it is already ${quota.valueVcpus} vCPUs in ${target.region}`,
    );
  }
  let change: RequestedServiceQuotaChange | undefined;
  try {
    const out = await ctx.aws.call('servicequotas:RequestServiceQuotaIncrease', target.region, () =>
      client.send(
        new (sdk.quotas().RequestServiceQuotaIncreaseCommand)({ ServiceCode: EC2_SERVICE_CODE, QuotaCode: target.quota.code, DesiredValue: desiredVcpus }),
      ),
    );
    change = out.RequestedQuota;
  } catch (error) {
    if (isMissingQuota(error)) throw notOfferedError(target);
    if (error instanceof AwsCallError && error.code === 'ResourceAlreadyExistsException') {
      throw new CliError(
        `a request to raise "${target.quota.name}" in ${target.region} is already open; ` +
          `follow it with: trainium-spot quota --status ${targetFlags(target)}`,
      );
    }
    throw error;
  }
  const report: QuotaRequestReport = {
    schemaVersion: SCHEMA_VERSION,
    command: 'quota-request',
    region: target.region,
    instanceType: target.instanceType,
    market: target.market,
    quota,
    request: requestRow(change),
  };
  emit(ctx, report, (r) =>
    `Requested ${desiredVcpus} vCPUs for "${r.quota.name}" (${r.quota.code}) in ${r.region}, now ${r.quota.valueVcpus}.\n` +
    renderFields([
      ['Request ID', r.request.id],
      ['Status', `${r.request.status}${STATUS_MEANINGS[r.request.status] ? ` - ${STATUS_MEANINGS[r.request.status]}` : ''}`],
    ]) +
    `Follow it with: trainium-spot quota --status ${targetFlags(r)}\n`,
  );
  return EXIT_OK;
}

async function showStatus(ctx: CommandContext, target: QuotaTarget): Promise<number> {
  const client = quotasClient(target.region);
  const changes: RequestedServiceQuotaChange[] = [];
  try {
    await ctx.aws.call('servicequotas:ListRequestedServiceQuotaChangeHistoryByQuota', target.region, async () => {
      const input = { ServiceCode: EC2_SERVICE_CODE, QuotaCode: target.quota.code };
      for await (const page of sdk.quotas().paginateListRequestedServiceQuotaChangeHistoryByQuota({ client }, input)) {
        changes.push(...(page.RequestedQuotas ?? []));
      }
    });
  } catch (error) {
    throw isMissingQuota(error) ? notOfferedError(target) : error;
  }
  const requests = changes.map(requestRow).sort((a, b) => (b.created ?? '').localeCompare(a.created ?? ''));
  const report: QuotaStatusReport = {
    schemaVersion: SCHEMA_VERSION,
    command: 'quota-status',
    region: target.region,
    instanceType: target.instanceType,
    market: target.market,
    quota: { code: target.quota.code, name: target.quota.name },
    requests,
  };
  emit(ctx, report, renderStatus);
  return EXIT_OK;
}

function renderStatus(r: QuotaStatusReport): string {
  const title = `"${r.quota.name}" (${r.quota.code}) in ${r.region}`;
  if (r.requests.length === 0) {
    return `No increase requests for ${title}.\nFile one with: trainium-spot quota --request VCPUS ${targetFlags(r)}\n`;
  }
  const latest = r.requests[0];
  return (
    `Increase requests for ${title}, newest first:\n` +
    renderTable(
      ['Created', 'Status', 'Desired vCPUs', 'Case', 'Request ID'],
      r.requests.map((q) => [isoOrDash(q.created), q.status, q.desiredVcpus ?? '-', q.caseId ?? '-', q.id]),
    ) +
    `Latest: ${latest.status}${STATUS_MEANINGS[latest.status] ? ` - ${STATUS_MEANINGS[latest.status]}` : ''}\n`
  );
}

// ---------------------------------------------------------------------------------------------
// The command
// ---------------------------------------------------------------------------------------------

/** The quota a configured market draws on first: auto tries spot; reservations and blocks run on on-demand capacity. */
const quotaMarketOf = (config: Config): QuotaMarket => (usesSpot(config) ? 'spot' : 'on-demand');

/**
 * What the check is about: the box (the configured type, market and count), or with --cluster the cluster's
 * nodes. A Capacity Block draws on no vCPU quota (the stack reads none either): only a --market given names one.
 */
function defaultsOf(config: Config, cluster: boolean, marketGiven: boolean): { instanceType: string; market: QuotaMarket; count: number } {
  if (!cluster) return { instanceType: config.instanceType, market: quotaMarketOf(config), count: config.instanceCount };
  if (!config.cluster) throw new UsageError('quota', '--cluster: the configuration has no cluster key');
  const [market] = MARKET_FACTS[config.cluster.market].quotas;
  if (market === undefined && !marketGiven) {
    throw new UsageError('quota', `--cluster: cluster.market "${config.cluster.market}" draws on no vCPU quota; give --market spot or on-demand to check one`);
  }
  return { instanceType: config.cluster.instanceType, market: market ?? 'on-demand', count: config.cluster.nodes };
}

async function run(flags: Flags, ctx: CommandContext): Promise<number> {
  const { config, region } = commandTarget(ctx, flags);
  const defaults = defaultsOf(config, flags.boolean('cluster'), flags.string('market') !== undefined);
  const type = flags.catalogInstanceType('instance-type', defaults.instanceType);
  const market = flags.oneOf('market', QUOTA_MARKETS, defaults.market);
  const desiredVcpus = flags.wholeNumber('request');
  const status = flags.boolean('status');
  if (desiredVcpus !== undefined && status) throw new UsageError('quota', '--request and --status cannot be used together');
  if (desiredVcpus !== undefined || status) flags.reject(['count'], `with ${status ? '--status' : '--request'}`);
  const instancesWanted = flags.wholeNumber('count') ?? defaults.count;
  const target: QuotaTarget = {
    region,
    instanceType: type.name,
    facts: type.facts,
    market,
    quota: QUOTAS[type.facts.family][market],
  };
  if (desiredVcpus !== undefined) return requestIncrease(ctx, target, desiredVcpus);
  if (status) return showStatus(ctx, target);
  return checkQuota(ctx, target, instancesWanted);
}

export const quotaCommand: CommandSpec = {
  name: 'quota',
  summary: 'Check that the next instance fits in your vCPU quota; request more',
  usage: [
    'quota [--instance-type TYPE] [--region REGION] [--market spot|on-demand] [--count N]',
    'quota --cluster [--region REGION] [--market spot|on-demand] [--count N]',
    'quota --request VCPUS [--instance-type TYPE] [--region REGION] [--market spot|on-demand]',
    'quota --status [--instance-type TYPE] [--region REGION] [--market spot|on-demand]',
  ],
  flags: FLAGS,
  examples: [
    'trainium-spot quota',
    'trainium-spot quota --instance-type trn1.32xlarge --market on-demand --region us-west-2',
    'trainium-spot quota --output json | jq .verdict',
    'trainium-spot quota --request 16',
    'trainium-spot quota --status',
    'trainium-spot quota --cluster',
  ],
  notes:
    'Instance type, market, count and region default to the stack\'s configuration (cdktf.json context,\n' +
    '$TRAINIUM_SPOT_CONFIG, TRAINIUM_SPOT_* variables); with --cluster, to the cluster\'s nodes\n' +
    '(cluster.instanceType, cluster.market, cluster.nodes). Flags override them for this run.\n\n' +
    'EC2 quotas count default vCPUs per instance family, market and region. The check adds up the\n' +
    'running and pending instances of the family in the market (spot: spot instances; on-demand:\n' +
    'everything else, Capacity Block instances included) and compares with the applied quota value\n' +
    '(or the AWS default when none is applied).\n\n' +
    'Exit codes: 0 it fits, 1 it does not fit (the increase command is printed), 2 error.\n' +
    '--request and --status exit 0 once AWS answered.',
  run,
};
