/**
 * The boxes of this stack, found by their tags in a region (Name = the config's name, and the
 * ManagedBy tag), so the daily commands work without Terraform state; and the SSH key and the
 * Session Manager route to reach them.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Instance } from '@aws-sdk/client-ec2';
import { instanceArnPrefix, KEY_PARAMETER_PREFIX, keyFileName, MANAGED_BY_TAG, partitionOf } from '../catalog';
import { ec2Client, sdk, ssmClient } from './aws';
import { CommandContext } from './command';
import { CliError } from './errors';
import { BoxState } from './report';

/** Every state but terminated: a stopped box is still the user's box. */
const LIVE_STATES = ['pending', 'running', 'stopping', 'stopped', 'shutting-down'];

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
  };
}

async function describe(ctx: CommandContext, region: string, filters: { Name: string; Values: string[] }[], ids?: string[]): Promise<BoxState[]> {
  const client = ec2Client(region);
  const found: BoxState[] = [];
  await ctx.aws.call('ec2:DescribeInstances', region, async () => {
    for await (const page of sdk.ec2().paginateDescribeInstances({ client }, { Filters: filters, InstanceIds: ids })) {
      for (const reservation of page.Reservations ?? []) {
        found.push(...(reservation.Instances ?? []).map((instance) => boxOf(instance, region, reservation.OwnerId)));
      }
    }
  });
  return found.sort((a, b) => a.instanceId.localeCompare(b.instanceId));
}

/** The boxes named `name` in `region`, terminated ones left out, ordered by instance id. */
export function findBoxes(ctx: CommandContext, region: string, name: string): Promise<BoxState[]> {
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

/** The boxes, for commands that act on them: none is an error naming what was looked for and where. */
export async function requireBoxes(ctx: CommandContext, region: string, name: string): Promise<BoxState[]> {
  const boxes = await findBoxes(ctx, region, name);
  if (boxes.length > 0) return boxes;
  throw new CliError(`no box named ${name} in ${region} (tags Name=${name}, ${MANAGED_BY_TAG.key}=${MANAGED_BY_TAG.value}); ` +
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

