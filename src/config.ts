/**
 * The one configuration of trainium-spot: a zod schema, its defaults, and the loader that merges
 * built-in defaults < cdktf.json context < $TRAINIUM_SPOT_CONFIG file < documented env vars,
 * validates once and returns a frozen, typed object. Nothing else reads the environment.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ipaddr from 'ipaddr.js';
import { distance } from 'fastest-levenshtein';
import { z } from 'zod';
import {
  AZ_ID_PATTERN,
  DATA_VOLUME,
  DEFAULT_IMAGE,
  GP3,
  INSTANCE_TYPE_NAMES,
  IMAGE_PRESET_NAMES,
  ImageChoice,
  REGION_PATTERN,
  instanceFacts,
  instanceFamily,
  OWN_TAG_KEYS,
  regionsOffering,
  resolveImage,
} from './catalog';
import { checkCluster, clusterSchema } from './cluster-config';
import { BOX_MARKETS } from './markets';

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/**
 * Configuration problems, phrased for people: every problem found, one line each, naming the source
 * that held the value, the field, the value and what is allowed.
 */
export class ConfigError extends Error {
  readonly problems: readonly string[];

  constructor(problems: string | readonly string[]) {
    const lines = typeof problems === 'string' ? [problems] : problems;
    super(lines.join('\n'));
    this.name = 'ConfigError';
    this.problems = lines;
  }
}

// ---------------------------------------------------------------------------------------------
// Defaults
// ---------------------------------------------------------------------------------------------

/** The smallest root volume the stack launches with; it grows to the AMI's snapshot size when that is larger. */
export const DEFAULT_ROOT_VOLUME_SIZE_GIB = 50;

/** The box markets, from the one market table (src/markets.ts). */
export const MARKETS = BOX_MARKETS;

/**
 * How a spot box is launched: a persistent `aws_spot_instance_request` (EC2 RequestSpotInstances),
 * or an `aws_instance` with spot market options (EC2 RunInstances).
 */
export const SPOT_LAUNCHES = ['spot-request', 'run-instances'] as const;

type MarketChoice = { readonly market: (typeof MARKETS)[number]; readonly spotLaunch: (typeof SPOT_LAUNCHES)[number] };

/** Whether the boxes may run on spot: market `spot`, or `auto` when spot wins at plan time. */
export const usesSpot = (c: MarketChoice): boolean => c.market === 'spot' || c.market === 'auto';

/**
 * Whether spot boxes launch through RequestSpotInstances, which takes neither metadata nor CPU
 * options (the provider drops them silently): such a box requires IMDSv2 on itself at first boot.
 */
export const usesSpotRequests = (c: MarketChoice): boolean => usesSpot(c) && c.spotLaunch === 'spot-request';

// ---------------------------------------------------------------------------------------------
// Schema
// ---------------------------------------------------------------------------------------------

const between = (min: number, max: number, unit = '') =>
  z.number().int().min(min, { error: `must be a whole number from ${min} to ${max}${unit}` })
    .max(max, { error: `must be a whole number from ${min} to ${max}${unit}` });

// The idle check compares in thousandths, so 0.001 is the smallest threshold it can tell from 0.
const percent = z.number().min(0.001, { error: 'must be a percentage from 0.001 to 100' })
  .max(100, { error: 'must be a percentage from 0.001 to 100' });

const detector = (what: string) => z.boolean().default(true).describe(`Count ${what} as activity.`);

/** Signals that only show that something is there, not that it works: bounded by idle.maxIdleSessionHours. */
const idleDetectorsSchema = z.strictObject({
  ssh: detector('SSH, mosh and VS Code sessions: `sshd: user@` session processes, `mosh-server`, the VS Code ' +
    'server and `code tunnel` (bounded by `idle.maxIdleSessionHours`)'),
  ssm: detector('Session Manager sessions (`ssm-session-worker`) and Run Command jobs (`ssm-document-worker`) ' +
    '(bounded by `idle.maxIdleSessionHours`)'),
  multiplexers: detector('tmux, screen, zellij and dtach sessions, attached or detached (bounded by ' +
    '`idle.maxIdleSessionHours`)'),
  neuron: detector('the highest NeuronCore utilization since the previous check (`neuron-monitor`), Neuron ' +
    'compiles, and a Neuron runtime holding NeuronCores (the last bounded by `idle.maxIdleSessionHours`)'),
  gpu: detector('GPU utilization from `nvidia-smi`, where present'),
  processes: detector('processes whose program and script match `idle.processPatterns` and not ' +
    '`idle.ignorePatterns` (bounded by `idle.maxIdleSessionHours`)'),
  cpu: detector('CPU (iowait included) above `idle.cpuThresholdPercent` of all vCPUs, or 0.8 of one vCPU, ' +
    'since the previous check'),
  disk: detector('disk reads and writes above `idle.diskThresholdKBps` (`/proc/diskstats`)'),
  memory: detector('memory in use above `idle.memoryThresholdPercent` (bounded by `idle.maxIdleSessionHours`)'),
  network: detector('network traffic above `idle.networkThresholdKBps`'),
  keepalive: detector('a touch of the keep-alive file within `idle.keepaliveMinutes`'),
  terminal: detector('keyboard input on any terminal (`/dev/pts`) since the previous check'),
  slurm: z.boolean().default(false).describe('Count Slurm jobs (one `squeue` per check) as activity, on a cluster ' +
    'head: jobs running, starting, completing or pending are work; held or suspended jobs, jobs whose dependency ' +
    'can never be satisfied, and a `squeue` that fails (slurmctld down) count like a session (bounded by ' +
    '`idle.maxIdleSessionHours`). Off on a box, which has no Slurm.'),
});

/** A list of POSIX extended regular expressions, each one line of printable text. */
const patternList = z.array(z.string().min(1, { error: 'must not be empty' })
  .max(200, { error: 'must be at most 200 characters' })
  // Each pattern becomes one line of idle.conf (a line break would also split grep's pattern in two):
  // no line breaks, no control characters (tabs are fine).
  // eslint-disable-next-line no-control-regex
  .regex(/^[^\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]*$/, {
    error: 'must be one line of printable characters',
  }));

/**
 * What a process is, as the idle check matches it: the program's name, then for an interpreter
 * (python, bash, node, ...) its script's name or `-m module`, else the program's first argument.
 * `/opt/venv/bin/python3 -u /home/me/finetuning.py --lr 3e-4` reads `python3 finetuning.py`.
 */
const DEFAULT_PROCESS_PATTERNS = [
  '^torchrun( |$)',
  '^python[0-9.]* -m torch\\.distributed\\.(run|launch)',
  '^deepspeed( |$)',
  '^accelerate launch',
  '(^| )neuron_parallel_compile',
  '^python[0-9.]* [^ ]*(train|fine[-_]?tun|infer|serve)',
  'jupyter[- ](lab|notebook|server|kernel)|ipykernel_launcher',
];

const DEFAULT_IGNORE_PATTERNS = ['tensorboard', 'mlflow (ui|server)'];

const idleSchema = z.strictObject({
  enabled: z.boolean().default(true).describe('Install the on-box idle auto-shutdown.'),
  dryRun: z.boolean().default(false).describe('Log every decision but never stop the box.'),
  checkIntervalSeconds: between(15, 3600, ' seconds').default(60).describe('Seconds between idle checks.'),
  idleMinutes: between(1, 1440, ' minutes').default(3)
    .describe('Minutes with no sign of work (on the boot clock) before the box stops itself.'),
  bootGraceMinutes: between(0, 120, ' minutes').default(5).describe('Minutes after boot during which the box never stops.'),
  maxIdleSessionHours: between(0, 168, ' hours (0: off)').default(3)
    .describe('Hours after the last sign of work or terminal input after which open sessions, kernels, ' +
      'multiplexers, matched processes and held memory stop counting; 0 counts them for ever.'),
  cpuThresholdPercent: percent.default(10).describe('CPU use above this (percent) is activity.'),
  diskThresholdKBps: z.number().min(0.001, { error: 'must be at least 0.001 KB/s' }).default(200)
    .describe('Disk reads + writes above this (KB/s, whole disks) are activity.'),
  memoryThresholdPercent: percent.default(80).describe('Memory use above this (percent) is activity.'),
  networkThresholdKBps: z.number().min(0.001, { error: 'must be at least 0.001 KB/s' }).default(20)
    .describe('Network traffic above this (KB/s, in + out, all interfaces but lo) is activity.'),
  neuronUtilizationThresholdPercent: percent.default(1).describe('NeuronCore utilization above this (percent) is activity.'),
  gpuUtilizationThresholdPercent: percent.default(5).describe('GPU utilization above this (percent) is activity.'),
  keepaliveMinutes: between(1, 1440, ' minutes').default(60)
    .describe('Minutes that a touch of the keep-alive file keeps the box up.'),
  processPatterns: patternList.default(DEFAULT_PROCESS_PATTERNS)
    .describe('POSIX extended regular expressions (grep -E) matched against what each process is: its program, ' +
      'then the script or `-m module` of an interpreter, else its first argument (e.g. `python3 finetuning.py`, ' +
      '`torchrun --nproc_per_node`). A pattern grep rejects keeps the box up (fail safe).'),
  ignorePatterns: patternList.default(DEFAULT_IGNORE_PATTERNS)
    .describe('Processes matching these (same form as `processPatterns`) never count, e.g. `tensorboard --logdir runs/train`.'),
  publishVerdict: z.boolean().default(true)
    .describe('Publish every decision to CloudWatch (`TrainiumSpot/Idle/<instance ARN>`: each box its own), which the `idleAlarm` backstop reads.'),
  detectors: idleDetectorsSchema.prefault({}).describe('Switch single activity detectors on or off.'),
});

const idleAlarmSchema = z.strictObject({
  enabled: z.boolean().default(true)
    .describe('Create the CloudWatch backstop: it stops a box whose idle check said stop but did not, or went silent while its CPU stayed low.'),
  silentMinutes: between(5, 120, ' minutes').default(10)
    .describe('Minutes without a published verdict after which the box counts as silent.'),
  lowCpuMinutes: between(10, 1440, ' minutes').default(25)
    .describe('Minutes of low CPU that, with a silent box, stop it.'),
  lowCpuBusyVcpus: z.number().min(0.05, { error: 'must be from 0.05 to 4 vCPUs' }).max(4, { error: 'must be from 0.05 to 4 vCPUs' })
    .default(0.5).describe('CPU below this many busy vCPUs (scaled to the instance type) counts as low.'),
});

/**
 * One gp3 EBS volume per box, kept when the box is replaced. Only the size is required: a `dataVolume` key
 * is the choice to have one.
 */
const dataVolumeSchema = z.strictObject({
  sizeGiB: between(GP3.minSizeGiB, GP3.maxSizeGiB, ' GiB')
    .describe(`Size of each box's data volume, required with \`dataVolume\`: an encrypted gp3 EBS volume mounted at \`${DATA_VOLUME.mountPoint}\` ` +
      'that is kept, and attached to the new box, when a box is replaced; `cdktf destroy` leaves a snapshot of it. ' +
      'Default: no data volume. A larger size grows the volume in place; its filesystem grows with `sudo resize2fs` on the box.'),
  iops: between(GP3.minIops, GP3.maxIops, ' IOPS').default(GP3.minIops).describe('gp3 IOPS of the data volume.'),
  throughputMiBps: between(GP3.minThroughputMiBps, GP3.maxThroughputMiBps, ' MiB/s')
    .default(GP3.minThroughputMiBps).describe('gp3 throughput of the data volume in MiB/s.'),
  snapshotId: z.string().regex(/^snap-[0-9a-f]{8,17}$/, { error: 'must look like snap-0123456789abcdef0' }).optional()
    .describe('Create the data volumes from this EBS snapshot (at least its size); setting or changing it replaces ' +
      'the volumes, each leaving a snapshot. The way to move the data to another AZ.'),
});

const backendSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('local'),
    path: z.string().min(1).optional().describe('State file path (default terraform.<stack>.tfstate).'),
  }),
  z.strictObject({
    type: z.literal('s3'),
    bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, { error: 'must be an S3 bucket name' }),
    key: z.string().min(1).default('trainium-spot/terraform.tfstate'),
    region: z.string().optional(),
    useLockfile: z.boolean().default(true).describe('S3-native state locking (Terraform 1.10+).'),
  }),
  z.strictObject({
    type: z.literal('cloud'),
    organization: z.string().min(1),
    workspace: z.string().min(1),
    hostname: z.string().default('app.terraform.io'),
  }),
], { error: 'must have type "local", "s3" or "cloud"' });

const OWN_TAG_KEY_LIST = ((keys: string[]) => `${keys.slice(0, -1).join(', ')} and ${keys[keys.length - 1]}`)(Object.values(OWN_TAG_KEYS));
/**
 * The stack's own tag keys are refused in any letter case, though EC2 tag keys are case-sensitive: a `name` tag
 * reads to a person as the box's name while the CLI goes on matching `Name` exactly; and IAM treats the keys
 * of a role's tags without regard to case (IAM User Guide, "Tagging IAM resources", case sensitivity), so a
 * `project` tag cannot sit beside `Project` on the box's role, which gets every default tag.
 */
const OWN_TAG_KEYS_LOWER_CASE = new Set(Object.values(OWN_TAG_KEYS).map((key) => key.toLowerCase()));

export const configSchema = z.strictObject({
  // 30 at most: name prefixes such as "<name>-notice-" plus AWS's 26-character suffix must fit 64.
  name: z.string().regex(/^[a-z][a-z0-9-]{0,29}$/, {
    error: 'must be 1-30 lowercase letters, digits or dashes, starting with a letter',
  }).default('trainium-spot').describe('Prefix of resource names and the Name tag of the boxes.'),
  region: z.string().regex(REGION_PATTERN, { error: 'must be an AWS region code such as us-east-2' })
    .default('us-east-2').describe('AWS region.'),
  instanceType: z.string().default('trn1.2xlarge').describe(`Instance type, one of ${INSTANCE_TYPE_NAMES.join(', ')}.`),
  market: z.enum(MARKETS, { error: `must be one of ${MARKETS.join(', ')}` }).default('spot')
    .describe('Purchase market; `auto` picks spot or on-demand at plan time from the quotas.'),
  spotLaunch: z.enum(SPOT_LAUNCHES, { error: `must be one of ${SPOT_LAUNCHES.join(', ')}` }).default('spot-request')
    .describe('How spot boxes launch: `spot-request` (aws_spot_instance_request) or `run-instances` ' +
      '(aws_instance with spot market options: IMDSv2 and CPU options at launch, no RequestSpotInstances).'),
  instanceCount: between(1, 64).default(1).describe('Number of identical boxes.'),
  availabilityZoneId: z.string().regex(AZ_ID_PATTERN, { error: 'must be an AZ ID such as use2-az3' }).optional()
    .describe('AZ ID (not name) of the box; default: the first AZ ID that offers the type in the region.'),
  subnetId: z.string().regex(/^subnet-[0-9a-f]{8,17}$/, { error: 'must look like subnet-0123456789abcdef0' }).optional()
    .describe('Launch into this existing subnet instead of creating a VPC.'),
  rootVolumeSizeGiB: between(GP3.minSizeGiB, GP3.maxSizeGiB, ' GiB').optional()
    .describe(`Root volume size; default: the larger of ${DEFAULT_ROOT_VOLUME_SIZE_GIB} GiB and the AMI's snapshot.`),
  rootVolumeIops: between(GP3.minIops, GP3.maxIops, ' IOPS').default(GP3.minIops).describe('gp3 IOPS of the root volume.'),
  rootVolumeThroughputMiBps: between(GP3.minThroughputMiBps, GP3.maxThroughputMiBps, ' MiB/s')
    .default(GP3.minThroughputMiBps).describe('gp3 throughput of the root volume in MiB/s.'),
  dataVolume: dataVolumeSchema.optional().describe(`A gp3 EBS volume per box at ${DATA_VOLUME.mountPoint}, kept when the box is replaced.`),
  cpuCoreCount: z.number().int().positive().optional()
    .describe("CPU cores (with spot only through spotLaunch run-instances); default: the type's default. " +
      'Fewer cores save neither money nor quota.'),
  cpuThreadsPerCore: z.number().int().positive().optional()
    .describe("Threads per core, 1 turns off SMT (with spot only through spotLaunch run-instances); default: the type's default."),
  sshCidrs: z.array(z.string()).default([]).describe('Networks (IPv4 or IPv6 CIDR) that may reach SSH; default none.'),
  allowSshFromAnywhere: z.boolean().default(false).describe('The only way to put 0.0.0.0/0 or ::/0 in sshCidrs.'),
  sshPublicKey: z.string().regex(/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+( .*)?$/, {
    error: 'must be an OpenSSH public key (ssh-ed25519, ssh-rsa or ecdsa-sha2-*)',
  }).optional().describe('Import this OpenSSH public key instead of generating a key pair.'),
  spotMaxPricePerHour: z.number().positive({ error: 'must be a price in USD per hour above 0' }).optional()
    .describe('Spot price cap in USD per hour; default: the on-demand price. A cap adds interruptions.'),
  spotRequestValidDays: between(1, 3650, ' days').default(365)
    .describe("Days the persistent spot request stays open (AWS's own default is 7); spotLaunch spot-request only."),
  createSpotServiceLinkedRole: z.boolean().default(false)
    .describe('Create AWSServiceRoleForEC2Spot (fails where the account has it already).'),
  createCloudWatchServiceLinkedRole: z.boolean().default(false)
    .describe("Create AWSServiceRoleForCloudWatchEvents, which the idle alarm's stop action runs as (fails where it exists)."),
  capacityReservationId: z.string().regex(/^cr-[0-9a-f]{8,17}$/, { error: 'must look like cr-0123456789abcdef0' })
    .optional().describe('Capacity Block (required for capacity-block) or reservation (capacity-reservation) to use.'),
  notifyEmail: z.email({ error: 'must be an e-mail address' }).optional()
    .describe('E-mail address subscribed to spot interruption and rebalance notices.'),
  image: z.string().default(DEFAULT_IMAGE)
    .describe(`Machine image: a preset (${IMAGE_PRESET_NAMES.join(', ')}), ssm: and an SSM parameter path, or an ami-... id. ` +
      'The default, pytorch, trains with PyTorch on the instance type out of the box.'),
  idleAlarm: idleAlarmSchema.prefault({}).describe('CloudWatch backstop that stops a box whose idle check failed.'),
  idle: idleSchema.prefault({}).describe('On-box idle auto-shutdown. A change reaches running boxes through the agent (State Manager), without replacing them.'),
  backend: backendSchema.prefault({ type: 'local' }).describe('Where Terraform keeps state: local, s3 or cloud.'),
  cluster: clusterSchema.optional(),
  tags: z.record(z.string(), z.string()).default({}).describe('Tags for every resource and the boxes themselves: any key but ' +
    `${OWN_TAG_KEY_LIST} (in any letter case), which the stack sets itself and finds its boxes by.`),
}).superRefine(checkAgainstCatalog);

export type ConfigInput = z.input<typeof configSchema>;
type Parsed = z.output<typeof configSchema>;
export type IdleSettings = Parsed['idle'];
export type BackendSettings = Parsed['backend'];

/** The validated configuration, with every catalog-derived default filled in. */
export interface Config extends Readonly<Omit<Parsed, 'availabilityZoneId' | 'cpuCoreCount' | 'cpuThreadsPerCore'>> {
  readonly availabilityZoneId: string;
  readonly cpuCoreCount: number;
  readonly cpuThreadsPerCore: number;
  /** True when the user chose `rootVolumeSizeGiB`; the stack then never grows it. */
  readonly rootVolumeSizeExplicit: boolean;
  /** `image` resolved for the instance type: a preset of the catalog, an SSM parameter or an AMI id. */
  readonly resolvedImage: ImageChoice;
}

// ---------------------------------------------------------------------------------------------
// Cross-field checks against the catalog
// ---------------------------------------------------------------------------------------------

const list = (values: readonly (string | number)[]) => values.join(', ');

function checkAgainstCatalog(c: Parsed, ctx: z.RefinementCtx): void {
  // `cause`: the key whose value makes this one wrong; its source is named when this one is missing.
  const fail = (path: string | (string | number)[], message: string, cause?: string) =>
    ctx.addIssue({ code: 'custom', path: typeof path === 'string' ? [path] : path, message, params: { cause } });

  for (const [key, value] of Object.entries(c.tags)) {
    if (key.length < 1 || key.length > 128 || key.toLowerCase().startsWith('aws:')) {
      fail(['tags'], `has key "${key}"; tag keys are 1-128 characters and must not start with "aws:"`);
    } else if (OWN_TAG_KEYS_LOWER_CASE.has(key.toLowerCase())) {
      fail(['tags'], `has key "${key}"; ${OWN_TAG_KEY_LIST} (in any letter case) are set by trainium-spot, which finds ` +
        `its boxes by them; allowed: any other key ("name" sets ${OWN_TAG_KEYS.project} and ${OWN_TAG_KEYS.name})`);
    } else if (value.length > 256) {
      fail(['tags', key], 'is longer than 256 characters, the limit for tag values');
    }
  }

  if (c.cluster) checkCluster(c.cluster, c.region, c.image, fail);

  const facts = instanceFacts(c.instanceType);
  if (!facts) {
    fail('instanceType', `is not a supported instance type; supported: ${list(INSTANCE_TYPE_NAMES)}`);
    return;
  }
  const azIds = facts.offeredIn[c.region];
  if (!azIds) {
    fail('region', `does not offer ${c.instanceType}; regions that do: ${list(regionsOffering(c.instanceType))}`, 'instanceType');
    return;
  }
  if (c.availabilityZoneId !== undefined && !azIds.includes(c.availabilityZoneId)) {
    fail('availabilityZoneId', `does not offer ${c.instanceType} in ${c.region}; AZ IDs that do: ${list(azIds)}`);
  }
  const image = resolveImage(c.image, instanceFamily(c.instanceType)!);
  if ('problem' in image) fail('image', image.problem);
  if (c.cpuCoreCount !== undefined && !facts.validCores.includes(c.cpuCoreCount)) {
    fail('cpuCoreCount', `is not valid for ${c.instanceType}; valid core counts: ${list(facts.validCores)}`);
  }
  if (c.cpuThreadsPerCore !== undefined && !facts.validThreadsPerCore.includes(c.cpuThreadsPerCore)) {
    fail('cpuThreadsPerCore', `is not valid for ${c.instanceType}; valid: ${list(facts.validThreadsPerCore)}`);
  }

  if (usesSpotRequests(c)) {
    for (const key of ['cpuCoreCount', 'cpuThreadsPerCore'] as const) {
      if (c[key] !== undefined) {
        fail(key, `cannot apply to market "${c.market}" with spotLaunch "spot-request": EC2 spot requests take no ` +
          'CPU options; set spotLaunch "run-instances", use market "on-demand", "capacity-block" or ' +
          '"capacity-reservation", or leave it out');
      }
    }
  }

  // gp3's ratios, for the root volume and the data volume alike.
  const checkGp3 = (volume: { sizeGiB: number; iops: number; throughputMiBps: number },
    keys: { sizeGiB: string; iops: string[]; throughputMiBps: string[] }) => {
    if (volume.iops > volume.sizeGiB * GP3.maxIopsPerGiB) {
      fail(keys.iops, `exceeds the gp3 limit of ${GP3.maxIopsPerGiB} IOPS per GiB ` +
        `(${volume.sizeGiB * GP3.maxIopsPerGiB} for ${volume.sizeGiB} GiB); raise ${keys.sizeGiB} or lower the IOPS`);
    }
    const iopsInRange = volume.iops >= GP3.minIops && volume.iops <= GP3.maxIops;
    if (iopsInRange && volume.throughputMiBps > volume.iops * GP3.maxThroughputPerIops) {
      fail(keys.throughputMiBps, `exceeds the gp3 limit of 0.25 MiB/s per provisioned IOPS ` +
        `(${volume.iops * GP3.maxThroughputPerIops} for ${volume.iops} IOPS)`);
    }
  };
  checkGp3({ sizeGiB: c.rootVolumeSizeGiB ?? DEFAULT_ROOT_VOLUME_SIZE_GIB, iops: c.rootVolumeIops, throughputMiBps: c.rootVolumeThroughputMiBps },
    { sizeGiB: 'rootVolumeSizeGiB', iops: ['rootVolumeIops'], throughputMiBps: ['rootVolumeThroughputMiBps'] });
  if (c.dataVolume) {
    checkGp3(c.dataVolume, { sizeGiB: 'dataVolume.sizeGiB', iops: ['dataVolume', 'iops'], throughputMiBps: ['dataVolume', 'throughputMiBps'] });
  }

  c.sshCidrs.forEach((cidr, i) => {
    const problem = cidrProblem(cidr);
    if (problem) {
      fail(['sshCidrs', i], problem);
    } else if (opensToTheWorld(cidr) && !c.allowSshFromAnywhere) {
      fail(['sshCidrs', i], 'opens SSH to the whole internet or a large part of it; set allowSshFromAnywhere: ' +
        'true to mean it, or use Session Manager (no SSH needed)');
    }
  });

  if (c.spotMaxPricePerHour !== undefined && c.spotMaxPricePerHour > facts.onDemandPricePerHour) {
    fail('spotMaxPricePerHour', `is above the on-demand price of ${c.instanceType} ` +
      `($${facts.onDemandPricePerHour}/h); allowed: above 0 and at most ${facts.onDemandPricePerHour}`);
  }

  const needsReservation = c.market === 'capacity-block';
  if (needsReservation && c.capacityReservationId === undefined) {
    fail('capacityReservationId', `is required when market is "${c.market}"; give the Capacity Block's cr-… id`, 'market');
  }
  if (c.market === 'capacity-block' && !facts.capacityBlocks) {
    fail('market', `is not offered for ${c.instanceType}; types with Capacity Blocks: ` +
      list(INSTANCE_TYPE_NAMES.filter((t) => instanceFacts(t)?.capacityBlocks)));
  }
  if (c.capacityReservationId !== undefined && c.availabilityZoneId === undefined && c.subnetId === undefined) {
    fail('availabilityZoneId', `is required with capacityReservationId: a reservation lives in one AZ, and the ` +
      `box must launch there; give its AZ ID (or a subnetId in that AZ)`, 'capacityReservationId');
  }
  if (c.capacityReservationId !== undefined && !['capacity-block', 'capacity-reservation'].includes(c.market)) {
    fail('capacityReservationId', `only applies to market "capacity-block" or "capacity-reservation", not "${c.market}"`);
  }
}

/**
 * 0.0.0.0/0 and ::/0, and blocks so wide they amount to it (0.0.0.0/1 + 128.0.0.0/1 is the world
 * too): shorter than /8 for IPv4, /16 for IPv6.
 */
function opensToTheWorld(cidr: string): boolean {
  const prefix = Number(cidr.split('/')[1]);
  return cidr.includes(':') ? prefix < 16 : prefix < 8;
}

/** Why a string is not a usable CIDR block, or undefined when it is. */
function cidrProblem(cidr: string): string | undefined {
  let parsed: [ipaddr.IPv4 | ipaddr.IPv6, number];
  try {
    parsed = ipaddr.parseCIDR(cidr);
  } catch {
    return 'is not a CIDR block; expected e.g. 203.0.113.7/32 or 2001:db8::/64';
  }
  const [address, prefix] = parsed;
  const network = address.kind() === 'ipv4'
    ? ipaddr.IPv4.networkAddressFromCIDR(cidr)
    : ipaddr.IPv6.networkAddressFromCIDR(cidr);
  if (network.toString() !== address.toString()) {
    return `has host bits set; the network is ${network.toString()}/${prefix}`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

/**
 * Env vars that override single keys, documented in the README.
 * The region rule, the same for the stack and the CLI: `region` from these sources, default
 * us-east-2; AWS_REGION never picks it (a warning says when the two disagree), and a CLI flag
 * `--region` overrides it for one run.
 */
export const ENV_OVERRIDES: Readonly<Record<string, keyof ConfigInput>> = {
  TRAINIUM_SPOT_REGION: 'region',
  TRAINIUM_SPOT_INSTANCE_TYPE: 'instanceType',
  TRAINIUM_SPOT_AZ_ID: 'availabilityZoneId',
  TRAINIUM_SPOT_MARKET: 'market',
  TRAINIUM_SPOT_SUBNET_ID: 'subnetId',
};

/** The key in cdktf.json `context` that holds a config object. */
export const CONTEXT_KEY = 'trainiumSpot';
export const CONFIG_FILE_ENV = 'TRAINIUM_SPOT_CONFIG';
/** cdktf-cli hands cdktf.json's `context` to the app in this variable. */
export const CDKTF_CONTEXT_ENV = 'CDKTF_CONTEXT_JSON';
/** A config object may name its JSON schema (for editors); the key sets nothing. */
const SCHEMA_KEY = '$schema';
const CONTEXT_SOURCE = `cdktf.json context.${CONTEXT_KEY}`;
const CLOUD_ENV_SOURCE = 'TF_CLOUD_ORGANIZATION and TF_WORKSPACE';

type Env = Readonly<Record<string, string | undefined>>;

export interface ConfigSources {
  /** cdktf.json `context` (the whole object; our part lives under `trainiumSpot`). */
  readonly context?: Record<string, unknown>;
  readonly env?: Env;
}

type Json = Record<string, unknown>;
const isPlainObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** One source of config keys and the name a person knows it by. */
interface Layer {
  readonly source: string;
  readonly values: Json;
}

/**
 * Later layers win; nested objects merge key by key, arrays and scalars are replaced. An object
 * whose `type` differs (a backend) is replaced whole: its keys belong to the other type.
 */
function mergeLayers(layers: readonly Json[]): Json {
  const out: Json = {};
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer)) {
      const earlier = out[key];
      const sameKind = isPlainObject(value) && isPlainObject(earlier) &&
        (value.type === undefined || earlier.type === undefined || value.type === earlier.type);
      out[key] = sameKind ? mergeLayers([earlier as Json, value as Json]) : value;
    }
  }
  return out;
}

const withoutSchemaKey = (values: Json): Json =>
  Object.fromEntries(Object.entries(values).filter(([key]) => key !== SCHEMA_KEY));

function readJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new ConfigError(`${what}: "${file}" cannot be read; expected the path of a JSON config file`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${what}: "${file}" is not valid JSON (${(err as Error).message})`);
  }
}

function readConfigFile(file: string): Json {
  const parsed = readJson(file, CONFIG_FILE_ENV);
  if (!isPlainObject(parsed)) {
    throw new ConfigError(`${CONFIG_FILE_ENV}: "${file}" must hold a JSON object of config keys`);
  }
  return withoutSchemaKey(parsed);
}

/**
 * The cdktf.json `context` the app runs with: what cdktf-cli hands over in CDKTF_CONTEXT_JSON, else
 * the `context` of cdktf.json in `dir` (when the app or the CLI runs on its own), else nothing.
 */
export function readContext(env: Env, dir: string): Json {
  const handed = env[CDKTF_CONTEXT_ENV];
  let context: unknown;
  if (handed) {
    try {
      context = JSON.parse(handed);
    } catch (err) {
      throw new ConfigError(`${CDKTF_CONTEXT_ENV} is not valid JSON (${(err as Error).message})`);
    }
  } else {
    const file = path.join(dir, 'cdktf.json');
    if (!fs.existsSync(file)) return {};
    const project = readJson(file, 'cdktf.json');
    context = isPlainObject(project) ? project.context : undefined;
  }
  if (context === undefined) return {};
  if (!isPlainObject(context)) throw new ConfigError('cdktf.json: "context" must be an object');
  return context;
}

/** Context keys that look meant for us but are not read: another case, a dash, a typo (two edits at most). */
function nearMissContextKeys(context: Json): string[] {
  return Object.keys(context).filter((key) => key !== CONTEXT_KEY &&
    (/^trainium/i.test(key) || distance(key.toLowerCase(), CONTEXT_KEY.toLowerCase()) <= 2));
}

/** Every source in precedence order, and what is wrong with them before the schema looks. */
function collectLayers(sources: ConfigSources): { layers: Layer[]; problems: string[] } {
  const env = sources.env ?? {};
  const context = sources.context ?? {};
  const problems: string[] = [];
  const layers: Layer[] = [];

  for (const key of nearMissContextKeys(context)) {
    problems.push(`cdktf.json context: key "${key}" is not read (keys are case-sensitive); ` +
      `put the config under "${CONTEXT_KEY}"`);
  }
  const fromContext = context[CONTEXT_KEY];
  if (fromContext !== undefined && !isPlainObject(fromContext)) {
    problems.push(`${CONTEXT_SOURCE} must be an object of config keys, not ${JSON.stringify(fromContext)}`);
  } else if (fromContext !== undefined) {
    layers.push({ source: CONTEXT_SOURCE, values: withoutSchemaKey(fromContext) });
  }

  const file = env[CONFIG_FILE_ENV];
  if (file) {
    try {
      layers.push({ source: file, values: readConfigFile(file) });
    } catch (err) {
      problems.push(...(err as ConfigError).problems);
    }
  }

  for (const [name, key] of Object.entries(ENV_OVERRIDES)) {
    const value = env[name];
    if (value !== undefined && value !== '') layers.push({ source: name, values: { [key]: value } });
  }

  const organization = env.TF_CLOUD_ORGANIZATION || undefined;
  const workspace = env.TF_WORKSPACE || undefined;
  if (organization && workspace) {
    const other = [...layers].reverse().find((l) => isPlainObject(l.values.backend));
    const otherType = other && (other.values.backend as Json).type;
    if (other && otherType !== 'cloud') {
      problems.push(`two backends: ${other.source} sets backend ${JSON.stringify(otherType ?? '(no type)')}, and ` +
        `${CLOUD_ENV_SOURCE} select Terraform Cloud; keep one (remove "backend" there, or unset the variables)`);
    } else {
      const hostname = env.TF_CLOUD_HOSTNAME ? { hostname: env.TF_CLOUD_HOSTNAME } : {};
      layers.push({ source: CLOUD_ENV_SOURCE, values: { backend: { type: 'cloud', organization, workspace, ...hostname } } });
    }
  } else if (organization || workspace) {
    const [set, unset] = organization ? ['TF_CLOUD_ORGANIZATION', 'TF_WORKSPACE'] : ['TF_WORKSPACE', 'TF_CLOUD_ORGANIZATION'];
    problems.push(`${set} "${organization ?? workspace}" is set but ${unset} is not; Terraform Cloud needs both ` +
      '(or neither, to use the backend of the config)');
  }
  return { layers, problems };
}

function valueAt(input: unknown, at: readonly PropertyKey[]): unknown {
  return at.reduce<unknown>((v, key) => (isPlainObject(v) || Array.isArray(v) ? (v as Json)[key as string] : undefined), input);
}

/** The source that set the value at `at` (or the object holding it), else `defaults`. */
function originOf(layers: readonly Layer[], at: readonly PropertyKey[]): string | undefined {
  for (let depth = at.length; depth > 0; depth--) {
    const prefix = at.slice(0, depth);
    const layer = [...layers].reverse().find((l) => valueAt(l.values, prefix) !== undefined);
    if (layer) return layer.source;
  }
  return undefined;
}

const withArticle = (noun: string): string => `${/^[aeiou]/.test(noun) ? 'an' : 'a'} ${noun}`;

function describeIssue(issue: z.core.$ZodIssue, input: unknown, layers: readonly Layer[]): string {
  const at = issue.path.map(String).join('.');
  const cause = (issue as { params?: { cause?: string } }).params?.cause;
  const origin = (keys: readonly PropertyKey[]) =>
    originOf(layers, keys) ?? (cause !== undefined ? originOf(layers, [cause]) : undefined) ?? 'defaults';
  if (issue.code === 'unrecognized_keys') {
    const where = at ? ` in ${at}` : '';
    return `${origin([...issue.path, issue.keys[0]])}: unknown key${issue.keys.length > 1 ? 's' : ''} ` +
      `${issue.keys.map((k) => `"${k}"`).join(', ')}${where}; allowed: ${list(allowedKeysAt(issue.path, input))}`;
  }
  const value = valueAt(input, issue.path);
  const shown = value === undefined ? '(missing)' : JSON.stringify(value);
  return `${origin(issue.path)}: ${at || 'config'} ${shown} ${phrase(issue, value)}`;
}

/** Our own messages read as predicates ("must be ..."); zod's built-in ones are rephrased to match. */
function phrase(issue: z.core.$ZodIssue, value: unknown): string {
  if (issue.code === 'invalid_type') {
    if (value === undefined) return 'is required';
    const expected = ({ int: 'whole number', record: 'object' } as Record<string, string>)[issue.expected] ?? issue.expected;
    return `must be ${withArticle(expected)}`;
  }
  return /^[A-Z]/.test(issue.message) ? `is invalid: ${issue.message}` : issue.message;
}

/**
 * The keys a strict object accepts at a path of the schema, for "unknown key" messages; in a
 * union of object types (the backend), the keys of the type the input names.
 */
function allowedKeysAt(at: readonly PropertyKey[], input: unknown): string[] {
  let shape: Record<string, z.ZodType> = configSchema.shape;
  for (const [depth, key] of at.entries()) {
    let node: z.ZodType | undefined = shape[key as string];
    while (node && !(node instanceof z.ZodObject) && 'unwrap' in node) node = (node as z.ZodDefault).unwrap() as z.ZodType;
    if (node instanceof z.ZodDiscriminatedUnion) {
      const type = valueAt(input, [...at.slice(0, depth + 1), 'type']);
      node = (node.options as z.ZodObject[]).find((o) => (o.shape.type as z.ZodLiteral).value === type);
    }
    if (!(node instanceof z.ZodObject)) return Object.keys(shape);
    shape = node.shape;
  }
  return Object.keys(shape);
}

/** Keys that once existed, with what replaces them. */
const RETIRED_KEYS: Readonly<Record<string, string>> = {
  amiSsmParameter: `use "image": "ssm:<parameter path>", or a preset: ${IMAGE_PRESET_NAMES.join(', ')}`,
};

/** One line per retired key in use, and which "unknown key" issues those lines already answer. */
function retiredKeyProblems(input: unknown, layers: readonly Layer[]) {
  const used = isPlainObject(input) ? Object.keys(RETIRED_KEYS).filter((key) => input[key] !== undefined) : [];
  return {
    lines: used.map((key) => `${originOf(layers, [key]) ?? 'defaults'}: ${key} ` +
      `${JSON.stringify((input as Record<string, unknown>)[key])} is no longer a key; ${RETIRED_KEYS[key]}`),
    answers: (issue: z.core.$ZodIssue): boolean => issue.code === 'unrecognized_keys' && issue.path.length === 0 &&
      issue.keys.every((key) => used.includes(key)),
  };
}

/** Validates the merged layers once; throws ConfigError with every problem, one line each. */
function parseLayers(layers: readonly Layer[], problems: readonly string[]): Config {
  const input = mergeLayers(layers.map((l) => l.values));
  const result = configSchema.safeParse(input);
  const retired = retiredKeyProblems(input, layers);
  const issues = (result.success ? [] : result.error.issues).filter((i) => !retired.answers(i));
  // A key with a malformed value gets that one line, not a second one from the cross-field checks.
  const malformed = new Set(issues.filter((i) => i.code !== 'custom').map((i) => String(i.path[0])));
  const all = [...problems, ...retired.lines, ...issues.filter((i) => i.code !== 'custom' || !malformed.has(String(i.path[0])))
    .map((i) => describeIssue(i, input, layers))];
  if (all.length > 0 || !result.success) throw new ConfigError(all);
  const c = result.data;
  const facts = instanceFacts(c.instanceType)!;
  return deepFreeze({
    ...c,
    availabilityZoneId: c.availabilityZoneId ?? facts.offeredIn[c.region][0],
    cpuCoreCount: c.cpuCoreCount ?? facts.defaultCores,
    cpuThreadsPerCore: c.cpuThreadsPerCore ?? facts.defaultThreadsPerCore,
    rootVolumeSizeExplicit: c.rootVolumeSizeGiB !== undefined,
    resolvedImage: resolveImage(c.image, instanceFamily(c.instanceType)!) as ImageChoice,
  });
}

/** Parse one input object (named `config` in messages); throws ConfigError naming every problem. */
export function parseConfig(input: unknown): Config {
  if (!isPlainObject(input)) throw new ConfigError('config must be an object of config keys');
  return parseLayers([{ source: 'config', values: input }], []);
}

/** A validated config and where its values came from. */
export interface LoadedConfig {
  readonly config: Config;
  /** The source that set a top-level key: `cdktf.json context.trainiumSpot`, a file, an env var, or `defaults`. */
  origin(key: keyof ConfigInput): string;
}

/** Merge every source, validate once, freeze; keep where each value came from. */
export function loadConfigWithOrigins(sources: ConfigSources = {}): LoadedConfig {
  const { layers, problems } = collectLayers(sources);
  const config = parseLayers(layers, problems);
  return { config, origin: (key) => originOf(layers, [key]) ?? 'defaults' };
}

/** Merge every source, validate once, freeze. */
export function loadConfig(sources: ConfigSources = {}): Config {
  return loadConfigWithOrigins(sources).config;
}

/** One line when AWS_REGION names another region than the one the stack and the CLI use. */
export function regionDisagreement(loaded: LoadedConfig, env: Env): string | undefined {
  const awsRegion = env.AWS_REGION;
  const { region } = loaded.config;
  if (!awsRegion || awsRegion === region) return undefined;
  return `warning: AWS_REGION is ${awsRegion}, but the configured region is ${region} (from ${loaded.origin('region')}); ` +
    `using ${region}: set TRAINIUM_SPOT_REGION or "region" in the config to change it`;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    Object.values(value).forEach(deepFreeze);
    Object.freeze(value);
  }
  return value;
}
