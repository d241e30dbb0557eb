/**
 * The boxes of this stack, found by their tags in a region (Name = the config's name, and the
 * ManagedBy tag), so the daily commands work without Terraform state; one deployment's of them, told
 * apart by the deployment tag; and the SSH key and the Session Manager route to reach them.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Instance } from '@aws-sdk/client-ec2';
import { DEPLOYMENT_ID_OUTPUT, DEPLOYMENT_TAG_KEY, instanceArnPrefix, KEY_PARAMETER_PREFIX, keyFileName, MANAGED_BY_TAG, partitionOf } from '../catalog';
import { UNTAGGED } from './args';
import { ec2Client, sdk, ssmClient } from './aws';
import { CommandContext } from './command';
import { CliError } from './errors';
import { isoOrDash } from './format';
import { BoxState, DeploymentChoice } from './report';

/** Every state but terminated: a stopped box is still the user's box. */
export const LIVE_STATES = ['pending', 'running', 'stopping', 'stopped', 'shutting-down'];

/**
 * What EC2 says when it stopped a spot box for want of capacity (or price); its persistent request
 * then reopens and restarts the box when capacity returns. Sources: EC2 API Reference, StateReason,
 * https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_StateReason.html, and EC2 User Guide,
 * "Get the status of a Spot Instance request", https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-request-status.html,
 * both checked 2026-12-01.
 */
export const SPOT_CAPACITY_STOP = 'Server.SpotInstanceShutdown';

/**
 * A box as DescribeInstances shows it in `region`; `ownerId` is the owner of its reservation ("the ID of the
 * AWS account that owns the reservation": EC2 API Reference, Reservation,
 * https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Reservation.html, checked 2026-12-07).
 */
export function boxOf(instance: Instance, region: string, ownerId: string | undefined): BoxState {
  return {
    instanceId: instance.InstanceId ?? '',
    instanceArn: ownerId && instance.InstanceId ? `${instanceArnPrefix(partitionOf(region), region, ownerId)}${instance.InstanceId}` : null,
    state: instance.State?.Name ?? 'unknown',
    market: instance.InstanceLifecycle ?? 'on-demand',
    instanceType: instance.InstanceType ?? '',
    availabilityZone: instance.Placement?.AvailabilityZone ?? null,
    availabilityZoneId: instance.Placement?.AvailabilityZoneId ?? null,
    publicIp: instance.PublicIpAddress ?? null,
    launchTime: instance.LaunchTime?.toISOString() ?? null,
    keyName: instance.KeyName ?? null,
    stateReason: instance.StateReason?.Code ?? null,
    deploymentId: instance.Tags?.find((tag) => tag.Key === DEPLOYMENT_TAG_KEY)?.Value ?? null,
  };
}

/** Every instance DescribeInstances finds in `region` (all pages), each as `read` makes it of the instance and its box. */
export async function describeInstances<T>(
  ctx: CommandContext, region: string, query: { filters?: { Name: string; Values: string[] }[]; ids?: string[] },
  read: (instance: Instance, box: BoxState) => T,
): Promise<T[]> {
  const client = ec2Client(region);
  const found: T[] = [];
  await ctx.aws.call('ec2:DescribeInstances', region, async () => {
    for await (const page of sdk.ec2().paginateDescribeInstances({ client }, { Filters: query.filters, InstanceIds: query.ids })) {
      for (const reservation of page.Reservations ?? []) {
        found.push(...(reservation.Instances ?? []).map((instance) => read(instance, boxOf(instance, region, reservation.OwnerId))));
      }
    }
  });
  return found;
}

async function describe(ctx: CommandContext, region: string, filters: { Name: string; Values: string[] }[], ids?: string[]): Promise<BoxState[]> {
  const found = await describeInstances(ctx, region, { filters, ids }, (_, box) => box);
  return found.sort((a, b) => a.instanceId.localeCompare(b.instanceId));
}

/** The boxes named `name` in `region`, of every deployment, terminated ones left out, ordered by instance id. */
function findBoxes(ctx: CommandContext, region: string, name: string): Promise<BoxState[]> {
  return describe(ctx, region, [
    { Name: 'tag:Name', Values: [name] },
    { Name: `tag:${MANAGED_BY_TAG.key}`, Values: [MANAGED_BY_TAG.value] },
    { Name: 'instance-state-name', Values: LIVE_STATES },
  ]);
}

/** The current state of boxes known by id. */
export function refreshBoxes(ctx: CommandContext, region: string, ids: string[]): Promise<BoxState[]> {
  return describe(ctx, region, [], ids);
}

// ---------------------------------------------------------------------------------------------
// One deployment's boxes
// ---------------------------------------------------------------------------------------------

/** What a box command asks for. */
export interface BoxQuery {
  readonly region: string;
  /** The configured name, the boxes' `Name` tag. */
  readonly name: string;
  /**
   * `--deployment`: a deployment id, or UNTAGGED.
   * @default - the only deployment with boxes of the name in the region; several are refused
   */
  readonly deployment?: string;
  /**
   * `--instance-id`: the deployment of that box, when no `deployment` is given.
   * @default - as `deployment` says
   */
  readonly instanceId?: string;
}

export interface DeploymentBoxes {
  /** `null`: no box of the name in the region at all, and no deployment asked for. */
  readonly deployment: DeploymentChoice | null;
  /** That deployment's boxes, ordered by instance id. */
  readonly boxes: BoxState[];
}

/** The help paragraph of every command that acts on boxes. */
export const DEPLOYMENT_NOTE =
  'Two deployments with one name in one account and region (two people, two checkouts) are told\n' +
  `apart by their boxes' ${DEPLOYMENT_TAG_KEY} tag, which is each deployment's Terraform output\n` +
  `${DEPLOYMENT_ID_OUTPUT}. With one deployment there, the command acts on it and names it; with several it\n` +
  'refuses and lists them, one line each, until --deployment picks one. Boxes deployed before\n' +
  `deployment ids count as "${UNTAGGED}" until the stack is applied again, which tags them in place.\n\n`;

/** How a sentence names a deployment: `deployment <id>`, or the boxes deployed before deployment ids. */
export const describeDeployment = (id: string | null): string =>
  id === null ? 'untagged boxes (deployed before deployment ids; the next apply tags them)' : `deployment ${id}`;

/** `<name> in <region>, deployment <id>`: what a command acts on, as its output says it. */
export const boxScope = (name: string, region: string, deployment: DeploymentChoice | null): string =>
  `${name} in ${region}${deployment ? `, ${describeDeployment(deployment.id)}` : ''}`;

/** The boxes by deployment: the ids in order, then the untagged boxes. */
function byDeployment(boxes: readonly BoxState[]): Map<string | null, BoxState[]> {
  const ids = [...new Set(boxes.map((b) => b.deploymentId))].sort((a, b) => (a === null ? 1 : b === null ? -1 : a.localeCompare(b)));
  return new Map(ids.map((id) => [id, boxes.filter((b) => b.deploymentId === id)]));
}

/** One line per deployment to choose from: what `--deployment` takes, then its boxes with their state and launch time. */
const deploymentLines = (groups: ReadonlyMap<string | null, readonly BoxState[]>): string[] =>
  [...groups].map(([id, boxes]) =>
    `${id ?? UNTAGGED}: ${boxes.map((b) => `${b.instanceId} ${b.state} (launched ${isoOrDash(b.launchTime)})`).join(', ')}`);

/**
 * Which deployment a command acts on. Two deployments of one name in one region (two people, two checkouts)
 * each tag their boxes with their own id; boxes without the tag (deployed before deployment ids) count as one
 * more. The CLI cannot read Terraform state, so it never guesses between them: it refuses, listing them.
 */
function chooseDeployment(query: BoxQuery, all: readonly BoxState[], groups: ReadonlyMap<string | null, readonly BoxState[]>): DeploymentChoice | null {
  if (query.deployment !== undefined) return { id: query.deployment === UNTAGGED ? null : query.deployment, chosenBy: '--deployment' };
  if (all.length === 0) return null;
  if (query.instanceId !== undefined) {
    const named = all.find((b) => b.instanceId === query.instanceId);
    if (!named) throw new CliError(`no box ${query.instanceId} named ${query.name} in ${query.region}; boxes: ${all.map((b) => b.instanceId).join(', ')}`);
    return { id: named.deploymentId, chosenBy: '--instance-id' };
  }
  if (groups.size === 1) return { id: [...groups.keys()][0], chosenBy: 'only-one' };
  throw new CliError(`${groups.size} deployments have boxes named ${query.name} in ${query.region}; say which with --deployment ` +
    `(its id is the Terraform output ${DEPLOYMENT_ID_OUTPUT} of the deployment):`, deploymentLines(groups));
}

/** The boxes of one deployment: the one asked for, or the only one there; an error lists them when that is unclear. */
export async function deploymentBoxes(ctx: CommandContext, query: BoxQuery): Promise<DeploymentBoxes> {
  const all = await findBoxes(ctx, query.region, query.name);
  const groups = byDeployment(all);
  const deployment = chooseDeployment(query, all, groups);
  const boxes = deployment ? groups.get(deployment.id) ?? [] : [];
  if (deployment && boxes.length === 0 && all.length > 0) {
    throw new CliError(`--deployment ${query.deployment} has no box named ${query.name} in ${query.region}; the deployments that have:`,
      deploymentLines(groups));
  }
  return { deployment, boxes };
}

/** As deploymentBoxes, for commands that act on boxes: none is an error naming what was looked for and where. */
export async function requireDeploymentBoxes(ctx: CommandContext, query: BoxQuery): Promise<{ deployment: DeploymentChoice; boxes: BoxState[] }> {
  const { deployment, boxes } = await deploymentBoxes(ctx, query);
  if (deployment && boxes.length > 0) return { deployment, boxes };
  throw new CliError(`no box named ${query.name} in ${query.region} (tags Name=${query.name}, ${MANAGED_BY_TAG.key}=${MANAGED_BY_TAG.value}); ` +
    'deploy it first (npx cdktf deploy), or give --region where it runs');
}

// ---------------------------------------------------------------------------------------------
// SSH: the key and the route
// ---------------------------------------------------------------------------------------------

/** Where the private key of a generated key pair is kept: one file per key pair, never stale. */
export const keyFile = (home: string, name: string, keyPairId: string): string =>
  path.join(home, '.ssh', keyFileName(name, keyPairId));

/**
 * Writes `content` through a new temporary file beside `file` and a rename, never half a file. The mode
 * is `mode` when given, else the mode the file has (without group and other write), else 0600. The
 * temporary file is created with that mode and cannot have existed before (an exclusive create of a
 * fresh name), so the content never sits in a file with a wider mode, not even for a moment. A symbolic
 * link (a dotfiles repository's ~/.ssh/config) stays one: its target is written.
 */
export function writePrivateFile(file: string, content: string, mode?: number): void {
  const target = fs.existsSync(file) ? fs.realpathSync(file) : file;
  const fileMode = mode ?? (fs.existsSync(target) ? fs.statSync(target).mode & 0o777 & ~0o022 : 0o600);
  fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
  const temporary = `${target}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    fs.writeFileSync(temporary, content, { mode: fileMode, flag: 'wx' });
    // The umask may have taken bits away; the file gets exactly its mode.
    fs.chmodSync(temporary, fileMode);
    fs.renameSync(temporary, target);
  } finally {
    fs.rmSync(temporary, { force: true });
  }
}

/** A private key is readable by its owner only, whatever file was at its path before. */
const PRIVATE_KEY_MODE = 0o600;

/**
 * The private key of the box's generated key pair, fetched from its SSM SecureString once and kept
 * at ~/.ssh/<name>-<key pair id>.pem with mode 0600; later runs use the file.
 */
export async function cachedKey(ctx: CommandContext, region: string, name: string, keyName: string, home: string): Promise<string> {
  const ec2 = ec2Client(region);
  const pairs = await ctx.aws.call('ec2:DescribeKeyPairs', region, () =>
    ec2.send(new (sdk.ec2().DescribeKeyPairsCommand)({ KeyNames: [keyName] })));
  const keyPairId = pairs.KeyPairs?.[0]?.KeyPairId;
  if (!keyPairId) throw new CliError(`the box's key pair ${keyName} no longer exists in ${region}`);
  const file = keyFile(home, name, keyPairId);
  if (fs.existsSync(file) && fs.statSync(file).size > 0) {
    if ((fs.statSync(file).mode & 0o077) !== 0) fs.chmodSync(file, PRIVATE_KEY_MODE);
    return file;
  }
  const parameter = `${KEY_PARAMETER_PREFIX}${keyPairId}`;
  const ssm = ssmClient(region);
  const out = await ctx.aws.call('ssm:GetParameter', region, () =>
    ssm.send(new (sdk.ssm().GetParameterCommand)({ Name: parameter, WithDecryption: true })));
  const key = out.Parameter?.Value;
  if (!key) throw new CliError(`SSM parameter ${parameter} holds no private key`);
  // An empty file at the path (a `touch`, an interrupted copy) must not lend the key its mode.
  writePrivateFile(file, key.endsWith('\n') ? key : `${key}\n`, PRIVATE_KEY_MODE);
  return file;
}

export const homeOf = (env: Readonly<Record<string, string | undefined>>): string => env.HOME || os.homedir();

