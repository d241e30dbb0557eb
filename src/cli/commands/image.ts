/**
 * `image`: which machine image a box of the type would launch with today, in a region: the preset
 * (or `ssm:` parameter, or AMI id) resolved through SSM and EC2, with the warnings worth acting on.
 */
import type { Image } from '@aws-sdk/client-ec2';
import {
  activateCommand,
  DEFAULT_IMAGE,
  IMAGE_ARCHITECTURE,
  ImageChoice,
  instanceFamily,
  resolveImage,
} from '../../catalog';
import { Flags, FlagSpecs } from '../args';
import { ec2Client, sdk, ssmClient } from '../aws';
import { CommandContext, CommandSpec, emit } from '../command';
import { AwsCallError, CliError, EXIT_DOES_NOT_FIT, EXIT_OK, UsageError } from '../errors';
import { isoOrDash, renderFields } from '../format';
import { ImageReport, SCHEMA_VERSION } from '../report';
import { commandTarget } from '../config';

const FLAGS: FlagSpecs = {
  'instance-type': { type: 'string', placeholder: 'TYPE', description: 'Instance type from the catalog (default: the configured instanceType)' },
  image: { type: 'string', placeholder: 'IMAGE', description: `Preset, ssm:<parameter path> or ami-... id (default: the configured image, else ${DEFAULT_IMAGE})` },
  region: { type: 'string', placeholder: 'REGION', description: 'AWS region (default: AWS_REGION, else your AWS profile)' },
};

/** Images older than this get a warning: Neuron moves fast, and old DLAMIs miss security updates. */
const OLD_AFTER_DAYS = 365;
/** A deprecation date closer than this is worth a warning ahead of time. */
const DEPRECATION_NOTICE_DAYS = 90;
const DAY_MS = 86_400_000;

// ---------------------------------------------------------------------------------------------
// Finding the image
// ---------------------------------------------------------------------------------------------

/** Where the image id comes from: a parameter, the id itself, or the newest Amazon AMI by name. */
interface Lookup {
  readonly ssmParameter: string | null;
  readonly nameFilter: string | null;
  readonly amiId: string | null;
}

function lookupOf(choice: ImageChoice): Lookup {
  switch (choice.kind) {
    case 'ssm':
      return { ssmParameter: choice.ssmParameter, nameFilter: null, amiId: null };
    case 'ami':
      return { ssmParameter: null, nameFilter: null, amiId: choice.amiId };
    default:
      return choice.preset.ssmParameter !== undefined
        ? { ssmParameter: choice.preset.ssmParameter, nameFilter: null, amiId: null }
        : { ssmParameter: null, nameFilter: `${choice.preset.amiNamePrefix} *`, amiId: null };
  }
}

async function parameterValue(ctx: CommandContext, region: string, name: string): Promise<string> {
  try {
    const answer = await ctx.aws.call('ssm:GetParameter', region, () => ssmClient(region).send(new (sdk.ssm().GetParameterCommand)({ Name: name })));
    const value = answer.Parameter?.Value;
    if (!value) throw new CliError(`SSM parameter ${name} in ${region} has no value`);
    return value;
  } catch (error) {
    if (error instanceof AwsCallError && error.code === 'ParameterNotFound') {
      throw new CliError(`SSM parameter ${name} does not exist in ${region}: check the path, or that AWS publishes it in this region`);
    }
    throw error;
  }
}

async function findImage(ctx: CommandContext, region: string, lookup: Lookup): Promise<Image> {
  const id = lookup.ssmParameter !== null ? await parameterValue(ctx, region, lookup.ssmParameter) : lookup.amiId;
  const input = id !== null
    ? { ImageIds: [id] }
    : { Owners: ['amazon'], Filters: [{ Name: 'name', Values: [lookup.nameFilter!] }, { Name: 'state', Values: ['available'] }] };
  const answer = await ctx.aws.call('ec2:DescribeImages', region, () => ec2Client(region).send(new (sdk.ec2().DescribeImagesCommand)(input)));
  const newest = (answer.Images ?? []).reduce<Image | undefined>(
    (best, image) => (best === undefined || (image.CreationDate ?? '') > (best.CreationDate ?? '') ? image : best), undefined);
  if (!newest?.ImageId) {
    const what = id !== null ? `image ${id}` : `Amazon AMI named "${lookup.nameFilter}"`;
    throw new CliError(`no ${what} in ${region}: EC2 DescribeImages found none; choose another with --image`);
  }
  return newest;
}

function rootSnapshotSizeGiB(image: Image): number | null {
  const root = (image.BlockDeviceMappings ?? []).find((m) => m.DeviceName === image.RootDeviceName);
  return root?.Ebs?.VolumeSize ?? null;
}

// ---------------------------------------------------------------------------------------------
// Verdict
// ---------------------------------------------------------------------------------------------

/** Why `terraform plan` would reject the image: the same checks as the stack's guards. */
function planGuardProblems(ami: ImageReport['ami'], choice: ImageChoice): string[] {
  const problems: string[] = [];
  if (ami.architecture !== IMAGE_ARCHITECTURE) {
    problems.push(`the image is ${ami.architecture ?? 'of unknown architecture'}, not ${IMAGE_ARCHITECTURE}: terraform plan will fail`);
  }
  if (choice.kind === 'preset' && !(ami.name ?? '').startsWith(choice.preset.amiNamePrefix)) {
    problems.push(`the image is named "${ami.name ?? ''}", not "${choice.preset.amiNamePrefix} ..." as preset ` +
      `${choice.name} expects: terraform plan will fail`);
  }
  return problems;
}

/** Age and deprecation: the plan accepts the image, but a newer one may serve better. */
function ageWarnings(ami: ImageReport['ami'], now: number): string[] {
  const warnings: string[] = [];
  const ageDays = Math.floor((now - (ami.creationDate ? Date.parse(ami.creationDate) : NaN)) / DAY_MS);
  if (ageDays > OLD_AFTER_DAYS) {
    warnings.push(`the image is ${ageDays} days old (created ${isoOrDash(ami.creationDate)}): it lacks a year of Neuron and security updates`);
  }
  const deprecation = ami.deprecationTime ? Date.parse(ami.deprecationTime) : NaN;
  if (deprecation <= now) {
    warnings.push(`AWS deprecated the image on ${isoOrDash(ami.deprecationTime)}: it may vanish from listings; choose a newer one`);
  } else if (deprecation - now <= DEPRECATION_NOTICE_DAYS * DAY_MS) {
    warnings.push(`AWS deprecates the image on ${isoOrDash(ami.deprecationTime)}`);
  }
  return warnings;
}

async function run(flags: Flags, ctx: CommandContext): Promise<number> {
  const { config, region } = commandTarget(ctx, flags);
  const type = flags.catalogInstanceType('instance-type', config.instanceType);
  const family = instanceFamily(type.name)!;
  const setting = flags.string('image') ?? config.image;
  const choice = resolveImage(setting, family);
  if ('problem' in choice) throw new UsageError('image', `--image "${setting}" ${choice.problem}`);

  const lookup = lookupOf(choice);
  const image = await findImage(ctx, region, lookup);
  const preset = choice.kind === 'preset' ? choice : undefined;
  const partial: Omit<ImageReport, 'warnings' | 'passesPlanGuards'> = {
    schemaVersion: SCHEMA_VERSION,
    command: 'image',
    region,
    instanceType: type.name,
    image: setting,
    preset: preset?.name ?? null,
    ssmParameter: lookup.ssmParameter,
    nameFilter: lookup.nameFilter,
    ami: {
      id: image.ImageId!,
      name: image.Name ?? null,
      architecture: image.Architecture ?? null,
      creationDate: image.CreationDate ?? null,
      rootSnapshotSizeGiB: rootSnapshotSizeGiB(image),
      deprecationTime: image.DeprecationTime ?? null,
    },
    neuronSdk: preset?.preset.neuronSdk ?? null,
    environments: preset?.preset.environments.map((e) => ({ path: e.path, holds: e.holds })) ?? [],
    activateCommand: activateCommand(choice) ?? null,
  };
  const problems = planGuardProblems(partial.ami, choice);
  const passesPlanGuards = problems.length === 0;
  emit(ctx, { ...partial, passesPlanGuards, warnings: [...problems, ...ageWarnings(partial.ami, Date.now())] }, renderImage);
  return passesPlanGuards ? EXIT_OK : EXIT_DOES_NOT_FIT;
}

function renderImage(r: ImageReport): string {
  const resolved = r.preset !== null && r.preset !== r.image ? `${r.image} (preset ${r.preset})` : r.image;
  const from = r.ssmParameter !== null ? `SSM parameter ${r.ssmParameter}`
    : r.nameFilter !== null ? `newest Amazon AMI named "${r.nameFilter}"` : 'the AMI id given';
  const environments = r.environments.length > 0
    ? r.environments.map((e) => `${e.path} (${e.holds})`).join('\n                 ')
    : 'none known; list them on the box with: ls -d /opt/aws_neuronx_venv_*';
  const fields: [string, string][] = [
    ['AMI id', r.ami.id],
    ['Name', r.ami.name ?? '-'],
    ['Created', isoOrDash(r.ami.creationDate)],
    ['Architecture', r.ami.architecture ?? '-'],
    ['Root snapshot', r.ami.rootSnapshotSizeGiB === null ? '-' : `${r.ami.rootSnapshotSizeGiB} GiB`],
    ['Deprecation', r.ami.deprecationTime === null ? 'none set' : isoOrDash(r.ami.deprecationTime)],
    ['From', from],
    ['Neuron SDK', r.neuronSdk === null ? 'unknown (not a preset)' : `${r.neuronSdk} (as catalogued)`],
    ['Environments', environments],
    ['Activate', r.activateCommand ?? '-'],
  ];
  return `Image ${resolved} for ${r.instanceType} in ${r.region}:\n` + renderFields(fields) +
    r.warnings.map((w) => `WARNING: ${w}\n`).join('');
}

export const imageCommand: CommandSpec = {
  name: 'image',
  summary: 'The machine image a box would launch with today, and its environments',
  usage: ['image [--instance-type TYPE] [--image IMAGE] [--region REGION]'],
  flags: FLAGS,
  examples: [
    'trainium-spot image',
    'trainium-spot image --instance-type trn2.48xlarge',
    'trainium-spot image --image jax-0.10 --region us-east-1',
  ],
  notes:
    'Reads the preset\'s SSM parameter (ssm:GetParameter) and the image (ec2:DescribeImages). Warns when the\n' +
    'image is older than a year, deprecated or soon to be, or would fail the plan\'s guards.\n\n' +
    'Exit codes: 0 the stack can use it, 1 terraform plan would reject it, 2 error.',
  run,
};
